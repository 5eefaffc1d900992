import type { Socket } from 'node:net';

/**
 * Stops reading a connection for a while: after a refusal with `Retry-After`, the client's
 * next request on that connection is not read before the time it was told to wait. A
 * client that honours Retry-After never notices; one that retries at once waits on TCP
 * instead of costing a parse, a refusal and a response per round trip. A socket that closes
 * meanwhile is simply forgotten.
 */
export class ConnectionHold {
  private readonly held = new Map<Socket, ReturnType<typeof setTimeout>>();

  /** Connections held now. */
  get size(): number {
    return this.held.size;
  }

  hold(socket: Socket, ms: number): void {
    if (socket.destroyed || this.held.has(socket)) return;
    socket.pause();
    const release = () => {
      const timer = this.held.get(socket);
      if (timer === undefined) return;
      clearTimeout(timer);
      this.held.delete(socket);
      socket.off('close', release);
      if (!socket.destroyed) socket.resume();
    };
    const timer = setTimeout(release, ms);
    timer.unref();
    this.held.set(socket, timer);
    socket.once('close', release);
  }
}
