/**
 * Commands that act on a managed app: restart, stop, show its logs. Each takes
 * `{name}`; without it (a context menu on a running item) the app is the item the
 * menu was opened on (its `data-context`).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { IApp, control, listStatuses } from './api';
import { AppStatuses } from './events';
import { CommandIDs, IAppRegistry } from './launcher';
import { LogPanel } from './logview';

/** The class of our items in the Running panel (the context menu's selector). */
export const RUNNING_ITEM_CLASS = 'jp-AppProxy-runningItem';

/** What the control commands need from the plugin. */
export interface IControlContext {
  app: JupyterFrontEnd;
  registry: IAppRegistry;
  statuses: AppStatuses;
  trans: TranslationBundle;
  /** Put a new log tab in the shell and the tracker. */
  addLogs: (panel: LogPanel) => void;
  findLogs: (name: string) => LogPanel | undefined;
}

/** The app a command is about: `args.name`, or the running item under the context menu. */
function targetName(
  app: JupyterFrontEnd,
  args: ReadonlyPartialJSONObject
): string {
  if (typeof args.name === 'string') {
    return args.name;
  }
  const node = app.contextMenuHitTest(n =>
    n.classList.contains(RUNNING_ITEM_CLASS)
  );
  return node?.dataset.context ?? '';
}

/** Add the restart, stop and show-logs commands. */
export function addControlCommands(context: IControlContext): void {
  const { app, registry, statuses, trans } = context;
  const titleOf = (args: ReadonlyPartialJSONObject): string => {
    const name = targetName(app, args);
    return registry.get(name)?.title ?? statuses.get(name)?.title ?? name;
  };
  const act = async (
    name: string,
    action: 'stop' | 'restart'
  ): Promise<unknown> => {
    try {
      return await control(name, action);
    } catch (error) {
      const title = registry.get(name)?.title ?? name;
      await showErrorMessage(
        action === 'stop'
          ? trans.__('Cannot stop %1', title)
          : trans.__('Cannot restart %1', title),
        error as Error
      );
      return undefined;
    }
  };

  app.commands.addCommand(CommandIDs.restart, {
    label: args => trans.__('Restart %1', titleOf(args)),
    caption: args => trans.__('Stop %1 and start it again', titleOf(args)),
    execute: args => act(targetName(app, args), 'restart')
  });
  app.commands.addCommand(CommandIDs.stop, {
    label: args => trans.__('Stop %1', titleOf(args)),
    execute: args => act(targetName(app, args), 'stop')
  });
  // A tab being made per app, so that two quick calls (restorer, user) give one.
  const opening = new Map<string, Promise<LogPanel>>();
  const newLogPanel = async (target: IApp): Promise<LogPanel> => {
    // Its log_since says where the current run's output begins.
    const status =
      statuses.get(target.name) ??
      (await listStatuses().catch(() => [])).find(s => s.name === target.name);
    const panel = new LogPanel(
      target.name,
      target.title,
      status,
      registry.icon(target.name),
      trans,
      () => act(target.name, 'restart')
    );
    context.addLogs(panel);
    return panel;
  };
  app.commands.addCommand(CommandIDs.showLogs, {
    label: args => trans.__('Show logs of %1', titleOf(args)),
    icon: args => registry.icon(targetName(app, args)),
    execute: async args => {
      const name = targetName(app, args);
      await registry.ready;
      const target = registry.get(name);
      if (!target) {
        console.warn(`jupyter-app-proxy: no app named ${name}`);
        return undefined;
      }
      let panel = context.findLogs(name);
      if (!panel || panel.isDisposed) {
        let pending = opening.get(name);
        if (!pending) {
          pending = newLogPanel(target);
          opening.set(name, pending);
          void pending.finally(() => opening.delete(name));
        }
        panel = await pending;
      }
      app.shell.activateById(panel.id);
      return panel;
    }
  });

  // On the Running panel's items: right-click for restart and logs.
  const selector = `.${RUNNING_ITEM_CLASS}`;
  app.contextMenu.addItem({ command: CommandIDs.restart, selector, rank: 1 });
  app.contextMenu.addItem({ command: CommandIDs.showLogs, selector, rank: 2 });
}

/** "Restart", "Stop" and "Show logs of" <title> in the palette, for each managed app. */
export function addControlPaletteItems(
  palette: ICommandPalette,
  apps: readonly IApp[],
  trans: TranslationBundle
): void {
  const category = trans.__('Apps');
  for (const app of apps.filter(a => a.managed)) {
    for (const command of [
      CommandIDs.restart,
      CommandIDs.stop,
      CommandIDs.showLogs
    ]) {
      palette.addItem({ command, args: { name: app.name }, category });
    }
  }
}
