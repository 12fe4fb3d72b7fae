/**
 * Notebook 7's tree page: the apps in its "New" menu.
 *
 * Notebook does not expose that menu: it is the one menu of the `MenuBar` with class
 * `jp-DropdownMenu` that its tree plugin puts in the file browser's toolbar (the
 * toolbar is filled from settings, so possibly after we start). Notebook clears and
 * refills the menu whenever the kernelspecs change, so the entries are put back then,
 * and checked again each time the menu opens.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { Message, MessageLoop } from '@lumino/messaging';
import { Menu, MenuBar, Widget } from '@lumino/widgets';

import { IApp } from './api';
import { CommandIDs } from './launcher';

/** True on Notebook 7's file tree page. */
export function isNotebookTree(pageOption: string): boolean {
  return pageOption === 'tree';
}

function findNewMenu(toolbar: Widget): Menu | null {
  for (const child of toolbar.children()) {
    if (child instanceof MenuBar && child.hasClass('jp-DropdownMenu')) {
      return child.menus[0] ?? null;
    }
  }
  return null;
}

/** Put an entry per enabled app at the end of `menu`, unless they are there. */
function ensureEntries(menu: Menu, apps: readonly IApp[]): void {
  if (menu.items.some(item => item.command === CommandIDs.open)) {
    return;
  }
  const enabled = apps.filter(app => app.launcherEntry.enabled);
  if (enabled.length === 0) {
    return;
  }
  menu.addItem({ type: 'separator' });
  for (const app of enabled) {
    menu.addItem({
      command: CommandIDs.open,
      args: { name: app.name, newBrowserTab: true, isLauncher: true }
    });
  }
}

/** Keep the apps in the tree's "New" menu for the life of the page. */
export function addToNewMenu(
  app: JupyterFrontEnd,
  browser: IDefaultFileBrowser,
  apps: readonly IApp[]
): void {
  let menu: Menu | null = null;
  const attach = (found: Menu): void => {
    menu = found;
    ensureEntries(found, apps);
    // The menu is attached to the page each time it opens.
    MessageLoop.installMessageHook(found, (_handler, msg: Message) => {
      if (msg.type === 'before-attach') {
        ensureEntries(found, apps);
      }
      return true;
    });
  };
  const search = (): boolean => {
    const found = findNewMenu(browser.toolbar);
    if (found && found !== menu) {
      attach(found);
    }
    return found !== null;
  };
  if (!search()) {
    const hook = (_handler: unknown, msg: Message): boolean => {
      if (msg.type === 'child-added' && search()) {
        MessageLoop.removeMessageHook(browser.toolbar, hook);
      }
      return true;
    };
    MessageLoop.installMessageHook(browser.toolbar, hook);
  }
  // Notebook's own slot clears the menu and refills it; ours runs after it.
  app.serviceManager.kernelspecs.specsChanged.connect(() => {
    setTimeout(() => {
      if (menu) {
        ensureEntries(menu, apps);
      }
    }, 0);
  });
}
