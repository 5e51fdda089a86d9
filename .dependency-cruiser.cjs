/**
 * Import rules: each layer depends only on the layers below it (docs/ARCHITECTURE.md, "Layers").
 * Runs in CI (`npm run check:imports`).
 */
const rule = (name, comment, from, to) => ({ name, comment, severity: 'error', from, to });

/**
 * src/jobs, bottom to top (docs/ARCHITECTURE.md, "The pipeline"): each folder imports only the folders
 * before it, and the facts at src/jobs/*.ts (the environment contract, the deployment's fixed facts), which
 * import no folder. So the lifecycle knows nothing of runs, a run nothing of intake, recovery uses the
 * lifecycle and never the reverse.
 */
const JOB_LAYERS = ['spec', 'notify', 'lifecycle', 'run', 'tiled', 'recovery', 'wiring', 'intake', 'local'];
const jobLayerRules = [
  rule(
    'job-facts-import-no-folder',
    'src/jobs/*.ts are facts every part of the pipeline reads: they import none of its folders',
    { path: '^src/jobs/[^/]+\\.ts$' },
    { path: `^src/jobs/(${JOB_LAYERS.join('|')})/` },
  ),
  ...JOB_LAYERS.slice(0, -1).map((layer, i) =>
    rule(
      `jobs-${layer}-is-below-${JOB_LAYERS.slice(i + 1).join('-')}`,
      `src/jobs/${layer} imports only the folders below it (${JOB_LAYERS.slice(0, i).join(', ') || 'none'})`,
      { path: `^src/jobs/${layer}/` },
      { path: `^src/jobs/(${JOB_LAYERS.slice(i + 1).join('|')})/`, dependencyTypesNot: ['type-only'] },
    ),
  ),
];

module.exports = {
  forbidden: [
    rule(
      'engine-is-pure',
      'src/engine is the math: it imports no other layer of src, no file system, network or HDF5',
      { path: '^src/engine/' },
      {
        path: [
          '^src/(image|jobs|storage|cli|weights)/',
          '^src/stylize-image',
          '^(functions|infra|layers)/',
          '^node:(fs|http|https)',
          '^(fs|http|https)(/|$)',
          'h5wasm',
        ],
      },
    ),
    rule(
      'image-and-storage-know-no-jobs',
      'image and storage are thin layers: they know nothing of jobs or the CLI',
      { path: '^src/(image|storage)/' },
      { path: ['^src/(jobs|cli)/', '^(functions|infra)/'] },
    ),
    rule(
      'tile-workers-know-no-jobs',
      'the tile workers run engine tiles in threads: they know nothing of jobs, storage, images or the CLI',
      { path: '^src/tile-workers/' },
      { path: ['^src/(jobs|cli|client|image|storage|weights)/', '^(functions|infra)/'] },
    ),
    rule(
      'weights-know-no-jobs',
      'weights storage knows nothing of jobs or the CLI',
      { path: '^src/weights/' },
      { path: ['^src/(jobs|cli|image|storage)/', '^(functions|infra)/'] },
    ),
    rule(
      'jobs-know-no-cli',
      'the pipeline does not depend on the command line',
      { path: '^src/jobs/' },
      { path: '^src/(cli|client)/' },
    ),
    rule(
      'client-knows-no-cli',
      'the user-side client (submit, wait, status) is a library the CLI uses, not the reverse',
      { path: '^src/client/' },
      { path: '^src/cli/' },
    ),
    ...jobLayerRules,
    rule(
      'functions-know-no-cli',
      'the deployed handlers do not bundle the CLI',
      { path: '^functions/' },
      { path: '^src/cli/' },
    ),
    rule(
      'runtime-never-imports-infra',
      'code that runs in Lambda, Batch or the CLI never imports the CDK app',
      { path: '^(src|functions)/' },
      { path: ['^infra/', '^layers/', 'aws-cdk-lib', '^constructs$', 'cdk-nag'] },
    ),
    {
      name: 'no-circular',
      comment: 'cycles make layers meaningless (a type-only import back is fine: it leaves no runtime edge)',
      severity: 'error',
      from: { path: '^(src|functions|infra)/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
    exclude: { path: '^node_modules' },
  },
};
