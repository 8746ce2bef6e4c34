// At most `size` calls in flight, started in the order they were asked for:
// the order matters, because one session's requests are applied in the
// order they are sent (a parent's create before its children's, a node's
// counter bumps before its ACL).
export class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  private readonly roomWaiters: (() => void)[] = [];

  constructor(readonly size: number) {}

  run<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.active++;
        fn().then(resolve, reject).finally(() => {
          this.active--;
          this.next();
        });
      };
      if (this.active < this.size && this.queue.length === 0) start();
      else this.queue.push(start);
    });
  }

  /** Resolves once fewer than `size` calls are waiting: producers pace themselves on it. */
  room(): Promise<void> {
    if (this.queue.length < this.size) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  private next(): void {
    while (this.active < this.size && this.queue.length > 0) this.queue.shift()!();
    while (this.queue.length < this.size && this.roomWaiters.length > 0) this.roomWaiters.shift()!();
  }
}
