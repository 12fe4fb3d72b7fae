/**
 * Commands, launcher cards and palette items for the apps.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { TranslationBundle } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';

import { IApp, appUrl } from './api';
import { AppTab } from './apptab';

export const CommandIDs = {
  /** Open an app (args: `{name}`, optional `newBrowserTab`) as configured: a browser tab or a Lab tab. */
  open: 'app-proxy:open',
  /** Open an app (args: `{name}`) in a JupyterLab tab; used by the restorer. */
  openTab: 'app-proxy:open-tab',
  /** Restart a managed app (args: `{name}`). */
  restart: 'app-proxy:restart',
  /** Stop a managed app (args: `{name}`). */
  stop: 'app-proxy:stop',
  /** Open (or show) the app's log tab (args: `{name}`). */
  showLogs: 'app-proxy:show-logs'
} as const;

/** The apps known to this page, with their icons, once loaded. */
export interface IAppRegistry {
  /** Resolves once the app list (and its icons) has been loaded. */
  ready: Promise<void>;
  get(name: string): IApp | undefined;
  icon(name: string): LabIcon;
}

/** Add the two commands; `addTab` puts a new app tab in the shell and tracker. */
export function addCommands(
  app: JupyterFrontEnd,
  registry: IAppRegistry,
  trans: TranslationBundle,
  addTab: (tab: AppTab) => void,
  findTab: (name: string) => AppTab | undefined
): void {
  // Launcher cards and menu entries (`isLauncher`) show the bare title.
  const label = (args: { name?: unknown; isLauncher?: unknown }): string => {
    const found = registry.get(String(args.name ?? ''));
    if (!found) {
      return trans.__('Open an app of jupyter-app-proxy');
    }
    return args.isLauncher === true
      ? found.title
      : trans.__('Open %1', found.title);
  };
  const openTab = async (name: string): Promise<AppTab | undefined> => {
    await registry.ready;
    const target = registry.get(name);
    if (!target) {
      console.warn(`jupyter-app-proxy: no app named ${name}`);
      return undefined;
    }
    let tab = findTab(name);
    if (!tab || tab.isDisposed) {
      tab = new AppTab(name, target.title, appUrl(target), registry.icon(name));
      addTab(tab);
    }
    app.shell.activateById(tab.id);
    return tab;
  };
  app.commands.addCommand(CommandIDs.openTab, {
    label,
    icon: args => registry.icon(String(args.name ?? '')),
    execute: args => openTab(String(args.name ?? ''))
  });
  app.commands.addCommand(CommandIDs.open, {
    label,
    caption: args => {
      const found = registry.get(String(args.name ?? ''));
      return found ? trans.__('Open %1 (%2)', found.title, appUrl(found)) : '';
    },
    icon: args => registry.icon(String(args.name ?? '')),
    execute: async args => {
      const name = String(args.name ?? '');
      await registry.ready;
      const target = registry.get(name);
      if (target && (target.newBrowserTab || args.newBrowserTab === true)) {
        window.open(appUrl(target), '_blank');
        return undefined;
      }
      return openTab(name);
    }
  });
}

/** An icon as a data: URL, for an `<img>`. */
export function iconDataUrl(icon: LabIcon): string {
  return 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(icon.svgstr);
}

/**
 * One launcher card per app whose launcher entry is enabled. The launcher shows
 * `kernelIconUrl` (an `<img>`) instead of the command's icon in its "Notebook" and
 * "Console" categories, so the icon goes in both.
 */
export function addLauncherCards(
  launcher: ILauncher,
  registry: IAppRegistry,
  apps: readonly IApp[]
): void {
  apps.forEach((app, rank) => {
    if (app.launcherEntry.enabled) {
      launcher.add({
        command: CommandIDs.open,
        args: { name: app.name, isLauncher: true },
        category: app.launcherEntry.category || 'Notebook',
        kernelIconUrl: iconDataUrl(registry.icon(app.name)),
        rank
      });
    }
  });
}

/** "Open <title>" in the command palette for every app. */
export function addPaletteItems(
  palette: ICommandPalette,
  apps: readonly IApp[],
  trans: TranslationBundle
): void {
  for (const app of apps) {
    palette.addItem({
      command: CommandIDs.open,
      args: { name: app.name },
      category: trans.__('Apps')
    });
  }
}
