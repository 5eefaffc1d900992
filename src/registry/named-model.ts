import { ErrorCode, ModelHostError } from '../errors/index.js';
import type { ResolvedModelOptions } from './model-options.js';
import type { LoadedVersion, VersionStatus } from './loaded-version.js';

export interface ModelStatus {
  readonly name: string;
  /** The version unpinned requests go to. */
  readonly defaultVersion: number | undefined;
  /** Whether the default version is ready to serve. */
  readonly ready: boolean;
  /** Versions known to the host, newest first. */
  readonly versions: readonly VersionStatus[];
}

/** A named model: its loaded versions and which one serves by default. */
export class NamedModel {
  readonly versions = new Map<number, LoadedVersion>();
  defaultVersion: number | undefined;

  constructor(
    readonly name: string,
    public options: ResolvedModelOptions,
  ) {}

  /** The version a request goes to: the pinned one, else the default. Throws when none can serve. */
  route(pinned: number | undefined): LoadedVersion {
    if (pinned !== undefined) {
      const version = this.versions.get(pinned);
      if (version === undefined) {
        throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${this.name}' has no loaded version ${pinned} (loaded: ${this.describeVersions()})`, {
          model: this.name,
          version: pinned,
        });
      }
      if (!version.isReady) throw version.notReady();
      return version;
    }
    const version = this.defaultVersion === undefined ? undefined : this.versions.get(this.defaultVersion);
    if (version === undefined || !version.isReady) {
      const states = this.describeVersions();
      throw new ModelHostError(ErrorCode.MODEL_NOT_READY, `model '${this.name}' has no ready version (${states})`, { model: this.name });
    }
    return version;
  }

  /** The newest ready version, or undefined. */
  newestReady(): number | undefined {
    let newest: number | undefined;
    for (const v of this.versions.values()) if (v.isReady && (newest === undefined || v.version > newest)) newest = v.version;
    return newest;
  }

  get ready(): boolean {
    return this.defaultVersion !== undefined && this.versions.get(this.defaultVersion)?.isReady === true;
  }

  status(): ModelStatus {
    return {
      name: this.name,
      defaultVersion: this.defaultVersion,
      ready: this.ready,
      versions: [...this.versions.values()].sort((a, b) => b.version - a.version).map((v) => v.status()),
    };
  }

  private describeVersions(): string {
    if (this.versions.size === 0) return 'none loaded';
    return [...this.versions.values()].map((v) => `v${v.version} ${v.state}`).join(', ');
  }
}
