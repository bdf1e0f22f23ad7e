import type { ContainerConfig, History, Layer } from '../../oci/index.js';
import type { Digest } from '../../oci/digest.js';
import { FsView } from '../../../snapshot/fs-view.js';
import { DEFAULT_PATH, envFromLines } from '../plan/index.js';
import type { StageRootfs } from '../run/stage-rootfs.js';

/**
 * What a stage has built so far: the image config it will have, its layers
 * and history, and a metadata view of its filesystem. Handlers change it;
 * a stage built FROM another starts from a copy.
 */
export class StageState {
  config: ContainerConfig;
  layers: Layer[];
  diffIds: Digest[];
  history: History[];
  view: FsView;
  author: string | undefined;
  /** The stage's files on disk, once a RUN needed them (never shared with a child stage). */
  rootfs: StageRootfs | undefined;
  /** Whether this stage set CMD itself (ENTRYPOINT keeps an own CMD, drops an inherited one). */
  cmdSet = false;

  /** Where each name is in config.Env, valid while config.Env is still `lines`. */
  private envIndex: { lines: string[]; positions: Map<string, number> } | undefined;

  /** For a registry base: builds the view from its layers the first time a step needs files. */
  private viewLoader: (() => Promise<FsView>) | undefined;

  constructor(init: {
    config: ContainerConfig;
    layers?: Layer[];
    diffIds?: Digest[];
    history?: History[];
    view?: FsView;
    viewLoader?: () => Promise<FsView>;
    author?: string;
  }) {
    this.config = structuredClone(init.config);
    this.layers = [...(init.layers ?? [])];
    this.diffIds = [...(init.diffIds ?? [])];
    this.history = (init.history ?? []).map((h) => ({ ...h }));
    this.view = init.view ?? FsView.empty();
    this.viewLoader = init.viewLoader;
    this.author = init.author;
  }

  /** The state FROM scratch starts with: BuildKit's empty image (PATH, and WorkingDir `/`). */
  static scratch(): StageState {
    return new StageState({ config: { Env: [`PATH=${DEFAULT_PATH}`], WorkingDir: '/' } });
  }

  /** Make `view` reflect the base image's files (a no-op for scratch and stage bases). */
  async ensureView(): Promise<FsView> {
    if (this.viewLoader) {
      const load = this.viewLoader;
      this.viewLoader = undefined;
      this.view = await load();
    }
    return this.view;
  }

  /** The view is stale (a RUN changed the files on disk): `load` makes it again the first time a step needs files. */
  reloadView(load: () => Promise<FsView>): void {
    this.viewLoader = load;
  }

  clone(): StageState {
    if (this.viewLoader) throw new Error('clone() before ensureView()');
    return new StageState({
      config: this.config,
      layers: this.layers,
      diffIds: this.diffIds,
      history: this.history,
      view: this.view,
      ...(this.author !== undefined ? { author: this.author } : {}),
    });
  }

  /** The environment as `K=V` lines, in config order. */
  envMap(): Map<string, string> {
    return envFromLines(this.config.Env ?? []);
  }

  /**
   * Sets one variable, keeping its place if it was set before. The first call
   * rewrites Env without duplicates, as a map would; later ones update it
   * through an index, so that n ENV lines cost n, not n².
   */
  setEnv(key: string, value: string): void {
    if (this.envIndex === undefined || this.envIndex.lines !== this.config.Env) {
      const lines = [...this.envMap()].map(([k, v]) => `${k}=${v}`);
      this.config.Env = lines;
      this.envIndex = { lines, positions: new Map(lines.map((line, i) => [line.slice(0, line.indexOf('=')), i])) };
    }
    const { lines, positions } = this.envIndex;
    const at = positions.get(key);
    if (at === undefined) {
      positions.set(key, lines.length);
      lines.push(`${key}=${value}`);
    } else {
      lines[at] = `${key}=${value}`;
    }
  }

  /** The working directory for relative paths: WORKDIR, or `/`. */
  workdir(): string {
    return this.config.WorkingDir || '/';
  }
}
