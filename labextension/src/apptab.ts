/**
 * An app in a JupyterLab main-area tab: a sandboxed iframe on the app's address.
 * Before the app is up, the server answers with its "Starting <title>…" page.
 */
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { IFrame, LabIcon } from '@jupyterlab/ui-components';

/** What an app's iframe may do: enough for typical web apps, never top navigation. */
const SANDBOX: IFrame.SandboxExceptions[] = [
  'allow-same-origin',
  'allow-scripts',
  'allow-forms',
  'allow-popups',
  'allow-downloads',
  'allow-modals'
];

/** A main-area tab showing one app; knows the app's name (to restore it). */
export class AppTab extends MainAreaWidget<IFrame> {
  constructor(
    readonly appName: string,
    title: string,
    url: string,
    icon: LabIcon
  ) {
    const content = new IFrame({ sandbox: SANDBOX });
    content.url = url;
    super({ content });
    this.id = `jupyter-app-proxy-tab-${appName}`;
    this.addClass('jp-AppProxy-tab');
    this.title.label = title;
    this.title.caption = title;
    this.title.icon = icon;
    this.title.closable = true;
    this.node.dataset.appProxyName = appName;
  }
}

/** The open app tabs (restored after a reload by the layout restorer). */
export function createTracker(): WidgetTracker<AppTab> {
  return new WidgetTracker<AppTab>({ namespace: 'jupyter-app-proxy' });
}
