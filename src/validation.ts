/** Validation problems (zod issues) as lines a person can act on. */
import type { z } from 'zod';

/** Every problem of a zod error, one line each, led by the option's name as `name` spells it. */
export function describeIssues(
  error: z.ZodError,
  name: (path: readonly PropertyKey[]) => string = (path) => path.map(String).join('.') || 'input',
): string[] {
  return error.issues.map((issue) => {
    // An unknown key's issue sits on the parent object and lists the keys.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : undefined;
    const label = keys ? keys.map((k) => name([...issue.path, k])).join(', ') : name(issue.path);
    return `${label}: ${issue.message}`;
  });
}
