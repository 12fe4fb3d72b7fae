/**
 * Every app's status, kept current from the server's `events` stream: one
 * `EventSource` for the whole page, shared by the running section, the log views and
 * the commands. The list is fetched again on every (re)connect, so nothing is
 * missed while disconnected; there is no polling.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { IAppStatus, listStatuses, streamUrl } from './api';

/** How long to wait before opening a stream again that the server refused. */
const RETRY_MS = 5000;

/** The apps' statuses by name, and a signal when any of them changed. */
export class AppStatuses implements IDisposable {
  private _statuses = new Map<string, IAppStatus>();
  private _changed = new Signal<this, void>(this);
  private _source: EventSource | null = null;
  private _retry = 0;
  private _disposed = false;
  /** Names updated by an event while a list was being fetched: the event is newer. */
  private _fresh: Set<string> | null = null;

  /** Emitted after one or more statuses changed (or were loaded). */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** The apps' statuses, sorted by name (empty until the first load). */
  get all(): IAppStatus[] {
    return [...this._statuses.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    );
  }

  get(name: string): IAppStatus | undefined {
    return this._statuses.get(name);
  }

  /** Open the stream (once); the list is fetched as soon as it is connected. */
  connect(): void {
    if (this._source || this._disposed) {
      return;
    }
    const source = new EventSource(streamUrl('events'));
    source.onopen = () => void this._refresh();
    source.addEventListener('status', event => {
      this._update(JSON.parse((event as MessageEvent<string>).data));
    });
    source.onerror = () => {
      // The browser reconnects by itself unless the server refused the stream.
      if (source.readyState === EventSource.CLOSED && !this._disposed) {
        this._source = null;
        this._retry = window.setTimeout(() => this.connect(), RETRY_MS);
      }
    };
    this._source = source;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    window.clearTimeout(this._retry);
    this._source?.close();
    this._source = null;
    Signal.clearData(this);
  }

  private _update(status: IAppStatus): void {
    this._fresh?.add(status.name);
    this._statuses.set(status.name, status);
    this._changed.emit();
  }

  private async _refresh(): Promise<void> {
    const fresh = new Set<string>();
    this._fresh = fresh;
    let statuses: IAppStatus[];
    try {
      statuses = await listStatuses();
    } catch (error) {
      console.warn('jupyter-app-proxy: cannot list the apps:', error);
      return;
    } finally {
      if (this._fresh === fresh) {
        this._fresh = null;
      }
    }
    for (const status of statuses) {
      if (!fresh.has(status.name)) {
        this._statuses.set(status.name, status);
      }
    }
    this._changed.emit();
  }
}
