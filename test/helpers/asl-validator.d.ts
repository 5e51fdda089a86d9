/** asl-validator ships no types: the one call the tests make (its README's API). */
declare module 'asl-validator' {
  interface Validation {
    readonly isValid: boolean;
    readonly errors: readonly unknown[];
    errorsText(separator?: string): string;
  }
  function aslValidator(
    definition: unknown,
    options?: { readonly checkPaths?: boolean; readonly checkArn?: boolean },
  ): Validation;
  export = aslValidator;
}
