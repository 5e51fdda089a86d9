/**
 * Promise.withResolvers for Node 20, which aws-local-stepfunctions (written for Node >= 22) calls when it
 * runs a Task state. Import it for its effect before running a state machine.
 */
type WithResolvers = <T>() => {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
};

const promises = Promise as unknown as { withResolvers?: WithResolvers };
promises.withResolvers ??= <T>() => {
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
};
