/**
 * An app's output in a main-area tab: the current run's buffered lines, then new
 * lines as they are printed (the app's log stream), stderr marked; it follows the
 * end unless the user scrolled up. The toolbar shows the app's state and restarts it.
 */
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { LabIcon, ToolbarButton, refreshIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { IAppStatus, ILogLine, fetchLogs, streamUrl } from './api';

/** At most this many lines stay in the page; older ones are removed. */
const MAX_LINES = 5000;
/** Within this many pixels of the end counts as "at the end". */
const BOTTOM_SLACK = 8;
/** Lines asked for per request of the buffered output. */
const PAGE = 1000;

/** The scrolling list of lines. */
export class LogLines extends Widget {
  /** Whether new lines scroll the view to the end (false once the user scrolls up). */
  follow = true;

  constructor() {
    super();
    this.addClass('jp-AppProxy-logLines');
    this.node.setAttribute('role', 'log');
    this.node.tabIndex = 0;
  }

  append(lines: readonly ILogLine[]): void {
    if (!lines.length) {
      return;
    }
    const fragment = document.createDocumentFragment();
    for (const line of lines) {
      const row = document.createElement('div');
      row.className = `jp-AppProxy-logLine jp-AppProxy-logLine-${line.stream}`;
      row.dataset.seq = String(line.seq);
      const time = row.appendChild(document.createElement('span'));
      time.className = 'jp-AppProxy-logTime';
      time.textContent = new Date(line.time).toLocaleTimeString();
      time.title = line.time;
      const text = row.appendChild(document.createElement('span'));
      text.className = 'jp-AppProxy-logText';
      text.textContent = line.text;
      fragment.appendChild(row);
    }
    this.node.appendChild(fragment);
    while (this.node.childElementCount > MAX_LINES) {
      this.node.firstElementChild?.remove();
    }
    this._scrollIfFollowing();
  }

  /** A line of our own between runs ("Started at …"). */
  mark(text: string): void {
    const row = document.createElement('div');
    row.className = 'jp-AppProxy-logMark';
    row.textContent = text;
    this.node.appendChild(row);
    this._scrollIfFollowing();
  }

  handleEvent(event: Event): void {
    if (event.type === 'scroll') {
      const node = this.node;
      this.follow =
        node.scrollTop + node.clientHeight >= node.scrollHeight - BOTTOM_SLACK;
    }
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.node.addEventListener('scroll', this);
    this._scrollIfFollowing();
  }

  protected onBeforeDetach(msg: Message): void {
    this.node.removeEventListener('scroll', this);
    super.onBeforeDetach(msg);
  }

  private _scrollIfFollowing(): void {
    if (this.follow) {
      this.node.scrollTop = this.node.scrollHeight;
    }
  }
}

/** The state shown in the toolbar, e.g. "running · pid 4242". */
class StateLabel extends Widget {
  constructor() {
    super({ node: document.createElement('span') });
    this.addClass('jp-AppProxy-logState');
    this.node.setAttribute('aria-live', 'polite');
  }

  setStatus(status: IAppStatus | undefined, trans: TranslationBundle): void {
    const state = status?.state ?? 'idle';
    this.node.dataset.state = state;
    this.node.textContent =
      status?.pid && (state === 'running' || state === 'starting')
        ? trans.__('State: %1 · pid %2', state, status.pid)
        : trans.__('State: %1', state);
    this.node.title = status?.error ?? '';
  }
}

/** One app's log tab; it owns the app's log stream and closes it when disposed. */
export class LogPanel extends MainAreaWidget<LogLines> {
  private _source: EventSource | null = null;
  private _state = new StateLabel();
  private _startedAt: string | null = null;

  constructor(
    readonly appName: string,
    title: string,
    status: IAppStatus | undefined,
    icon: LabIcon,
    private _trans: TranslationBundle,
    restart: () => Promise<unknown>
  ) {
    super({ content: new LogLines() });
    this.id = `jupyter-app-proxy-logs-${appName}`;
    this.addClass('jp-AppProxy-logPanel');
    this.node.dataset.appProxyName = appName;
    this.title.label = _trans.__('Logs: %1', title);
    this.title.caption = _trans.__('Output of %1', title);
    this.title.icon = icon;
    this.title.closable = true;
    this.toolbar.addItem('state', this._state);
    this.toolbar.addItem(
      'restart',
      new ToolbarButton({
        icon: refreshIcon,
        label: _trans.__('Restart'),
        tooltip: _trans.__('Restart %1', title),
        className: 'jp-AppProxy-restartButton',
        onClick: () => void restart()
      })
    );
    this._state.setStatus(status, _trans);
    this._startedAt = status?.started_at ?? null;
    void this._load(status?.log_since ?? 0);
  }

  dispose(): void {
    this._source?.close();
    this._source = null;
    super.dispose();
  }

  /** The buffered lines of the current run, then the live stream after them. */
  private async _load(since: number): Promise<void> {
    let next = since;
    try {
      for (;;) {
        const page = await fetchLogs(this.appName, next, PAGE);
        if (this.isDisposed) {
          return;
        }
        if (page.dropped) {
          this.content.mark(
            this._trans.__('%1 earlier lines are no longer kept', page.dropped)
          );
        }
        this.content.append(page.lines);
        next = page.next;
        if (page.lines.length < PAGE) {
          break;
        }
      }
    } catch (error) {
      console.warn(`jupyter-app-proxy: no logs of ${this.appName}:`, error);
    }
    const source = new EventSource(
      streamUrl(`apps/${encodeURIComponent(this.appName)}/logs/stream`, {
        since: next
      })
    );
    source.onmessage = event => {
      this.content.append([JSON.parse(event.data) as ILogLine]);
    };
    source.addEventListener('state', event => {
      this._onState(JSON.parse((event as MessageEvent<string>).data));
    });
    this._source = source;
  }

  private _onState(status: IAppStatus): void {
    this._state.setStatus(status, this._trans);
    if (status.started_at && status.started_at !== this._startedAt) {
      const at = new Date(status.started_at).toLocaleTimeString();
      this.content.mark(this._trans.__('Started at %1', at));
    }
    this._startedAt = status.started_at;
  }
}

/** The open log tabs (restored after a reload). */
export function createLogTracker(): WidgetTracker<LogPanel> {
  return new WidgetTracker<LogPanel>({
    namespace: 'jupyter-app-proxy-logs'
  });
}
