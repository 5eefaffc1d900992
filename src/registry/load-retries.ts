/** The most polls a broken version waits between tries while its files stay the same. */
export const MAX_POLLS_BETWEEN_TRIES = 64;

interface Failure {
  readonly fingerprint: string;
  readonly message: string;
  /** Consecutive failures on these same files. */
  readonly failures: number;
  /** Polls left before the next try on these same files. */
  wait: number;
}

/**
 * When the repository poll tries a version that failed to load again: at once when its files
 * change (a copy completed, a file was replaced), otherwise after 1, 2, 4 … up to
 * MAX_POLLS_BETWEEN_TRIES polls, so a broken folder is not re-read and re-verified on every
 * poll. A failure is reported once per distinct message, not once per try.
 */
export class LoadRetries {
  private readonly failed = new Map<string, Failure>();

  /** Whether to try `key` (`model@version`) on this poll; counts the poll when it waits. */
  shouldTry(key: string, fingerprint: string): boolean {
    const failure = this.failed.get(key);
    if (failure === undefined || failure.fingerprint !== fingerprint) return true;
    if (failure.wait === 0) return true;
    failure.wait--;
    return false;
  }

  /** Records a failed try; true when its message is new for `key` (report it). */
  recordFailure(key: string, fingerprint: string, message: string): boolean {
    const previous = this.failed.get(key);
    const failures = previous !== undefined && previous.fingerprint === fingerprint ? previous.failures + 1 : 1;
    this.failed.set(key, { fingerprint, message, failures, wait: Math.min(2 ** (failures - 1), MAX_POLLS_BETWEEN_TRIES) - 1 });
    return previous?.message !== message;
  }

  succeeded(key: string): void {
    this.failed.delete(key);
  }

  /** Forgets every failure of `model` whose version is not in `versions` (left the repository or the policy). */
  retainOnly(model: string, versions: readonly number[]): void {
    for (const key of this.failed.keys()) {
      const at = key.lastIndexOf('@');
      if (key.slice(0, at) === model && !versions.includes(Number(key.slice(at + 1)))) this.failed.delete(key);
    }
  }
}
