/**
 * An "Apps" section in the Running sidebar (JupyterLab's, and Notebook 7's Running
 * tab): every managed app that was started and is not stopped, with its state and
 * uptime, live from {@link AppStatuses}. A click opens the app; the item's shut-down
 * button stops it; its context menu restarts it or shows its logs. Both go through
 * the commands, so a refusal is shown, not lost.
 */
import { CommandRegistry } from '@lumino/commands';
import { IRunningSessionManagers, IRunningSessions } from '@jupyterlab/running';
import { TranslationBundle } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';

import { AppState, IAppStatus } from './api';
import { RUNNING_ITEM_CLASS } from './control';
import { AppStatuses } from './events';
import { CommandIDs, IAppRegistry } from './launcher';

/** The states the section lists: everything between a start and a stop. */
export const LISTED_STATES: readonly AppState[] = [
  'starting',
  'running',
  'stopping',
  'crashed',
  'failed'
];

/** The uptime labels refresh this often while an app is listed (no server request). */
const CLOCK_MS = 30_000;

/** How long the app has been up (since ready, else since its start): "5 min", "2 h 5 min". */
export function uptime(
  status: IAppStatus,
  trans: TranslationBundle,
  now: number = Date.now()
): string {
  const since = status.ready_at ?? status.started_at;
  if (!since) {
    return '';
  }
  const minutes = Math.floor((now - Date.parse(since)) / 60_000);
  if (minutes < 1) {
    return trans.__('< 1 min');
  }
  if (minutes < 60) {
    return trans.__('%1 min', minutes);
  }
  const hours = Math.floor(minutes / 60);
  return trans.__('%1 h %2 min', hours, minutes % 60);
}

/** Register the section; `statuses` must be connected by the caller. */
export function addRunningSection(
  managers: IRunningSessionManagers,
  statuses: AppStatuses,
  registry: IAppRegistry,
  commands: CommandRegistry,
  trans: TranslationBundle
): void {
  const changed = new Signal<AppStatuses, void>(statuses);
  const listed = (): IAppStatus[] =>
    statuses.all.filter(s => s.managed && LISTED_STATES.includes(s.state));
  statuses.changed.connect(() => changed.emit());
  window.setInterval(() => {
    if (listed().length) {
      changed.emit();
    }
  }, CLOCK_MS);

  const item = (status: IAppStatus): IRunningSessions.IRunningItem => {
    const { name, title, state } = status;
    return {
      className: `${RUNNING_ITEM_CLASS} jp-AppProxy-state-${state}`,
      context: name,
      icon: () => registry.icon(name),
      label: () => title,
      // The sidebar is narrow: a running app's detail is its uptime, any other's its
      // state; the tooltip says both.
      labelTitle: () => {
        const up = state === 'running' ? uptime(status, trans) : '';
        const what = up ? trans.__('%1 for %2', state, up) : state;
        return (
          trans.__('%1 (%2): %3', title, status.url, what) +
          (status.pid ? trans.__(', pid %1', status.pid) : '') +
          (status.error ? `; ${status.error}` : '')
        );
      },
      detail: () => (state === 'running' && uptime(status, trans)) || state,
      open: () => void commands.execute(CommandIDs.open, { name }),
      shutdown: () => void commands.execute(CommandIDs.stop, { name })
    };
  };

  managers.add({
    name: trans.__('Apps'),
    running: () => listed().map(item),
    refreshRunning: () => undefined, // kept current by the event stream
    runningChanged: changed,
    shutdownAll: () => {
      for (const status of listed()) {
        void commands.execute(CommandIDs.stop, { name: status.name });
      }
    },
    shutdownLabel: trans.__('Stop'),
    shutdownAllLabel: trans.__('Stop All'),
    shutdownAllConfirmationText: () =>
      trans.__('Stop all apps? Their unsaved work may be lost.')
  });
}
