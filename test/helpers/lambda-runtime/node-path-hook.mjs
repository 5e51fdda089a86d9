/**
 * A module resolve hook that gives ES module imports Lambda's NODE_PATH search. Lambda's Node.js runtimes
 * (18 and later) resolve a bare specifier that the default resolution cannot find from each NODE_PATH folder
 * (so a bundle's `import sharp from 'sharp'` finds /opt/nodejs/node_modules/sharp, from a layer); plain Node
 * applies NODE_PATH to require() only.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const folders = (process.env.NODE_PATH ?? '').split(path.delimiter).filter(Boolean);

/** `sharp`, `@img/x`: not relative, absolute, a URL (node:, file:) or a package import (#x). */
const isBare = (specifier) => !/^(\.{0,2}\/|#|[a-z][a-z\d+.-]*:)/i.test(specifier);

const notFound = (e) => e?.code === 'ERR_MODULE_NOT_FOUND';

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (e) {
    if (!notFound(e) || !isBare(specifier)) throw e;
    for (const folder of folders) {
      const found = await fromFolder(folder, specifier, context, nextResolve);
      if (found) return found;
    }
    throw e;
  }
}

/** `specifier` resolved as if imported from a module in `folder`, kept only when it lies inside `folder`. */
async function fromFolder(folder, specifier, context, nextResolve) {
  const parentURL = pathToFileURL(path.join(folder, 'node-path-importer.mjs')).href;
  try {
    const found = await nextResolve(specifier, { ...context, parentURL });
    const file = found.url.startsWith('file:') ? fileURLToPath(found.url) : '';
    // Node's search also walks up from `folder`; NODE_PATH means `folder/<specifier>` only.
    return file.startsWith(folder + path.sep) ? found : undefined;
  } catch (e) {
    if (notFound(e)) return undefined;
    throw e;
  }
}
