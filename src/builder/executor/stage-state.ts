import type { ContainerConfig, History, Layer } from '../../oci/index.js';
import type { Digest } from '../../oci/digest.js';
import { FsView } from '../../../snapshot/fs-view.js';
import type { StageFiles } from '../../../snapshot/stage-files.js';
import { DEFAULT_PATH, envFromLines } from '../plan/index.js';
import type { StageRootfs } from '../run/stage-rootfs.js';
import type { GrowingTar } from '../../../snapshot/rootfs/following-unpack.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';

/**
 * What a stage has built so far: the image config it will have, its layers
 * and history, and its files (`files()`). Handlers change it; a stage built
 * FROM another starts from a copy.
 *
 * The files are an in-memory view of the layers until a RUN needs them on
 * disk; from then on the rootfs is what steps read, and every later layer
 * is applied to it (the view is dropped). A stage built FROM a stage with a
 * rootfs either takes that rootfs over (the build executor decides when
 * nothing reads the earlier stage again) or reads it unchanged (`inherited`)
 * until it changes its own files, when it gets a copy.
 */
export class StageState {
  config: ContainerConfig;
  layers: Layer[];
  diffIds: Digest[];
  history: History[];
  /** The files while there is no rootfs: valid when neither `rootfs` nor `inherited` is set. */
  private view: FsView;
  author: string | undefined;
  /** The stage's own files on disk, once a RUN (or a stage FROM it) needed them. */
  rootfs: StageRootfs | undefined;
  /** The rootfs of the stage this one is built FROM, read as is until this stage changes its files. */
  inherited: StageRootfs | undefined;
  /** Whether this stage set CMD itself (ENTRYPOINT keeps an own CMD, drops an inherited one). */
  cmdSet = false;
  /** A later step of the stage runs a RUN: its rootfs will be needed (set by the executor before each step). */
  rootfsAhead = false;
  /**
   * The rootfs being unpacked in the background for that RUN, while the
   * view still serves the steps before it; every layer added meanwhile is
   * applied to it in order.
   */
  private pendingRootfs: Promise<StageRootfs> | undefined;

  /** Where each name is in config.Env, valid while config.Env is still `lines`. */
  private envIndex: { lines: string[]; positions: Map<string, number> } | undefined;

  /** Builds the view from the layers the first time a step needs files (a registry base; a stage whose rootfs was handed on). */
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

  private async ensureView(): Promise<FsView> {
    if (this.viewLoader) {
      const load = this.viewLoader;
      this.viewLoader = undefined;
      this.view = await load();
    }
    return this.view;
  }

  /** The stage's files as they are now: its rootfs, the rootfs it inherited, or the view. */
  async files(): Promise<StageFiles> {
    return this.rootfs?.files ?? this.inherited?.files ?? (await this.ensureView());
  }

  /** Whether the files are on disk (a new layer must be applied there, not to a view). */
  get onDisk(): boolean {
    return this.rootfs !== undefined || this.inherited !== undefined;
  }

  /** A layer the stage added without running anything: the view takes its entries (a rootfs takes the layer itself, see StepContext). */
  async addToView(entries: Iterable<LayerEntry>): Promise<void> {
    this.view = (await this.ensureView()).withLayer(entries);
  }

  /**
   * A layer restored from the build cache: applied to the stage's own
   * rootfs if it has one; otherwise the files are read from the layers
   * again (by `load`) only when a later step needs them.
   */
  async addCachedLayer(layer: Layer, diffId: Digest, load: (layers: readonly Layer[]) => Promise<FsView>): Promise<void> {
    this.layers.push(layer);
    this.diffIds.push(diffId);
    if (this.rootfs !== undefined) {
      await this.rootfs.applyLayer(layer);
      return;
    }
    this.applyAhead(layer);
    const layers = [...this.layers];
    this.inherited = undefined;
    this.view = FsView.empty();
    this.viewLoader = () => load(layers);
  }

  /** Whether a rootfs is being unpacked ahead of the RUN that needs it. */
  get unpacking(): boolean {
    return this.pendingRootfs !== undefined;
  }

  /**
   * Start unpacking the stage's rootfs in the background, from the layers
   * so far. A failure surfaces in `takePendingRootfs`; if nothing takes it
   * (the RUN came from the cache), the build's cleanup removes it.
   */
  unpackAhead(start: (layers: readonly Layer[]) => Promise<StageRootfs>): void {
    if (this.pendingRootfs !== undefined) return;
    this.pendingRootfs = start([...this.layers]);
    this.pendingRootfs.catch(() => undefined);
  }

  /** A new layer goes to the rootfs being unpacked ahead too, after what it has; false when there is none. */
  applyAhead(layer: Layer): boolean {
    return this.afterAhead((rootfs) => rootfs.applyLayer(layer));
  }

  /** A new layer whose tar is being written goes to the rootfs being unpacked ahead, as it is written; false when there is none. */
  applyAheadGrowing(tar: GrowingTar): boolean {
    // Whatever keeps the apply from starting, the tar's spool is let go.
    if (this.afterAhead((rootfs) => rootfs.applyGrowing(tar), tar.done)) return true;
    tar.done();
    return false;
  }

  /** `apply` to the rootfs being unpacked ahead once what came before is applied (`skipped` if that failed); false when there is none. */
  private afterAhead(apply: (rootfs: StageRootfs) => Promise<void>, skipped?: () => void): boolean {
    if (this.pendingRootfs === undefined) return false;
    this.pendingRootfs = this.pendingRootfs.then(
      async (rootfs) => {
        await apply(rootfs);
        return rootfs;
      },
      (err: unknown) => {
        skipped?.();
        throw err;
      },
    );
    this.pendingRootfs.catch(() => undefined);
    return true;
  }

  /** Once the unpack ahead (if any) has finished or failed. */
  async settleAhead(): Promise<void> {
    await this.pendingRootfs?.catch(() => undefined);
  }

  /** The rootfs unpacked ahead, once ready (undefined when none was started); the caller adopts it. */
  takePendingRootfs(): Promise<StageRootfs> | undefined {
    const pending = this.pendingRootfs;
    this.pendingRootfs = undefined;
    return pending;
  }

  /** The stage's files are on disk from now on: the view is dropped (it would only go stale). */
  adoptRootfs(rootfs: StageRootfs): void {
    this.rootfs = rootfs;
    this.inherited = undefined;
    this.view = FsView.empty();
    this.viewLoader = undefined;
  }

  /**
   * This stage's rootfs (own or inherited) goes to a later stage that will
   * change it: from now on its files are a view read from its layers
   * (nothing is expected to read them; this keeps any reader correct).
   */
  giveUpRootfs(load: () => Promise<FsView>): void {
    this.rootfs = undefined;
    this.inherited = undefined;
    this.view = FsView.empty();
    this.viewLoader = load;
  }

  /**
   * The image's stage is done and nothing reads its files on disk again (the
   * outputs read blobs): its rootfs starts going now, while layers are still
   * being compressed. Its files are a view of its layers from now on.
   */
  discardRootfs(load: () => Promise<FsView>): void {
    const rootfs = this.rootfs;
    if (rootfs === undefined) return;
    this.giveUpRootfs(load);
    // A failure surfaces in the build's cleanup, which awaits the same removal.
    rootfs.discard().catch(() => undefined);
  }

  /** The state a stage built FROM this one starts with: the same files, shared as they are. */
  clone(): StageState {
    const child = new StageState({
      config: this.config,
      layers: this.layers,
      diffIds: this.diffIds,
      history: this.history,
      view: this.view,
      ...(this.author !== undefined ? { author: this.author } : {}),
    });
    child.inherited = this.rootfs ?? this.inherited;
    if (child.inherited === undefined && this.viewLoader !== undefined) {
      // Both read the same layers: one load serves both.
      const load = this.viewLoader;
      let loaded: Promise<FsView> | undefined;
      const once = (): Promise<FsView> => (loaded ??= load());
      this.viewLoader = once;
      child.viewLoader = once;
    }
    return child;
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
