/**
 * Import rules: each layer depends only on the layers below it (docs/ARCHITECTURE.md, "Layers").
 * Runs in CI (`npm run check:imports`).
 */
const rule = (name, comment, from, to) => ({ name, comment, severity: 'error', from, to });

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
      'weights-know-no-jobs',
      'weights storage knows nothing of jobs or the CLI',
      { path: '^src/weights/' },
      { path: ['^src/(jobs|cli|image|storage)/', '^(functions|infra)/'] },
    ),
    rule(
      'jobs-know-no-cli',
      'the pipeline does not depend on the command line',
      { path: '^src/jobs/' },
      { path: '^src/cli/' },
    ),
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
