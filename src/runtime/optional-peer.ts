import { ErrorCode, ModelHostError } from '../errors/index.js';

const cache = new Map<string, Promise<unknown>>();

/**
 * Imports an optional peer dependency once (memoized). A missing package becomes a
 * ModelHostError that names what to install, never a crash at import time of modelhost.
 */
export function importPeer<T>(pkg: string, neededFor: string, install = pkg): Promise<T> {
  let pending = cache.get(pkg);
  if (pending === undefined) {
    pending = import(pkg).then(
      (mod: { default?: unknown }) => mod,
      (error: unknown) => {
        cache.delete(pkg); // installing it later and retrying works
        throw isModuleNotFound(error, pkg)
          ? new ModelHostError(ErrorCode.UNSUPPORTED_MODEL, `${neededFor} needs the package '${pkg}', which is not installed. Install it: npm install ${install}`, { cause: error })
          : new ModelHostError(ErrorCode.UNSUPPORTED_MODEL, `${neededFor} could not import '${pkg}': ${(error as Error)?.message ?? String(error)}`, { cause: error });
      },
    );
    cache.set(pkg, pending);
  }
  return pending as Promise<T>;
}

/** Whether a package can be imported, without throwing. */
export async function hasPeer(pkg: string): Promise<boolean> {
  try {
    await importPeer(pkg, pkg);
    return true;
  } catch {
    return false;
  }
}

function isModuleNotFound(error: unknown, pkg: string): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  const message = String((error as Error | undefined)?.message ?? '');
  // Node sets a code; bundlers and test runners that resolve imports themselves only say so.
  const notFound = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (package|module)|Could not resolve/.test(message);
  // Only the package itself missing, not one of its own dependencies.
  return notFound && (message.includes(`'${pkg}'`) || message.includes(`"${pkg}"`));
}
