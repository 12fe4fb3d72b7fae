/**
 * The JupyterLab / Notebook 7 frontend of jupyter-app-proxy: for each app the server
 * offers, a launcher card, a palette command and (Notebook's tree) a "New" menu entry;
 * apps open in a browser tab or in a restorable JupyterLab tab.
 *
 * Started apps are listed in the Running sidebar, with their state kept current
 * from one event stream, and each has a log tab and restart / stop commands.
 *
 * Modules: `api` (REST client and types), `icons` (LabIcons from `icon_url`),
 * `launcher` (commands, cards, palette), `apptab` (the iframe tab), `notebook`
 * (Notebook 7's "New" menu), `events` (the shared status stream), `control`
 * (restart, stop, logs commands), `running` (the Running section), `logview` (the
 * log tab).
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { IRunningSessionManagers } from '@jupyterlab/running';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';

import { IApp, listApps } from './api';
import { AppTab, createTracker } from './apptab';
import { addControlCommands, addControlPaletteItems } from './control';
import { AppStatuses } from './events';
import { appIcon, iconFor } from './icons';
import {
  CommandIDs,
  IAppRegistry,
  addCommands,
  addLauncherCards,
  addPaletteItems
} from './launcher';
import { LogPanel, createLogTracker } from './logview';
import { addToNewMenu, isNotebookTree } from './notebook';
import { addRunningSection } from './running';

/** Loads the app list and icons once; what the commands look apps up in. */
class AppRegistry implements IAppRegistry {
  readonly ready: Promise<void>;
  private _apps = new Map<string, IApp>();
  private _icons = new Map<string, LabIcon>();
  private _list: IApp[] = [];

  constructor() {
    this.ready = this._load();
  }

  get apps(): readonly IApp[] {
    return this._list;
  }

  get(name: string): IApp | undefined {
    return this._apps.get(name);
  }

  icon(name: string): LabIcon {
    return this._icons.get(name) ?? appIcon;
  }

  private async _load(): Promise<void> {
    try {
      this._list = await listApps();
    } catch (error) {
      console.warn('jupyter-app-proxy: cannot list the apps:', error);
      return;
    }
    const icons = await Promise.all(
      this._list.map(app => iconFor(app.name, app.launcherEntry.icon_url))
    );
    this._list.forEach((app, i) => {
      this._apps.set(app.name, app);
      this._icons.set(app.name, icons[i]);
    });
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-app-proxy:plugin',
  description:
    'Launcher cards, commands and tabs for the apps of jupyter-app-proxy.',
  autoStart: true,
  optional: [
    ITranslator,
    ILauncher,
    ICommandPalette,
    ILayoutRestorer,
    IDefaultFileBrowser,
    IRunningSessionManagers
  ],
  activate: (
    app: JupyterFrontEnd,
    translator: ITranslator | null,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    browser: IDefaultFileBrowser | null,
    running: IRunningSessionManagers | null
  ) => {
    const trans = (translator ?? nullTranslator).load('jupyter_app_proxy');
    const registry = new AppRegistry();
    const tracker = createTracker();
    addCommands(
      app,
      registry,
      trans,
      (tab: AppTab) => {
        app.shell.add(tab, 'main');
        void tracker.add(tab);
      },
      name => tracker.find(tab => tab.appName === name)
    );
    const statuses = new AppStatuses();
    statuses.connect();
    const logTracker = createLogTracker();
    addControlCommands({
      app,
      registry,
      statuses,
      trans,
      addLogs: (panel: LogPanel) => {
        app.shell.add(panel, 'main');
        void logTracker.add(panel);
      },
      findLogs: name => logTracker.find(panel => panel.appName === name)
    });
    if (running) {
      addRunningSection(running, statuses, registry, app.commands, trans);
    }
    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openTab,
        args: tab => ({ name: tab.appName }),
        name: tab => tab.appName
      });
      void restorer.restore(logTracker, {
        command: CommandIDs.showLogs,
        args: panel => ({ name: panel.appName }),
        name: panel => panel.appName
      });
    }
    void registry.ready.then(() => {
      if (launcher) {
        addLauncherCards(launcher, registry, registry.apps);
      }
      if (palette) {
        addPaletteItems(palette, registry.apps, trans);
        addControlPaletteItems(palette, registry.apps, trans);
      }
      const page = PageConfig.getOption('notebookPage');
      if (browser && isNotebookTree(page)) {
        addToNewMenu(app, browser, registry.apps);
      }
    });
  }
};

export default plugin;
