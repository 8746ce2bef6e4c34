// The ancestors of the current node of a depth-first stream, each closed
// (handed to onClose) once the stream has left its subtree: post-order
// work on a pre-order stream, holding only the current path.
import { isUnder } from "../zk/paths.js";

export class PathStack<F extends { path: string }> {
  private readonly frames: F[] = [];

  constructor(private readonly onClose: (f: F) => void) {}

  /** Closes every frame `path` is not below; answers the innermost one left (its parent, in a well-formed stream). */
  enter(path: string): F | undefined {
    while (this.frames.length > 0 && !isUnder(path, this.frames.at(-1)!.path)) this.onClose(this.frames.pop()!);
    return this.frames.at(-1);
  }

  push(f: F): void {
    this.frames.push(f);
  }

  finish(): void {
    while (this.frames.length > 0) this.onClose(this.frames.pop()!);
  }
}
