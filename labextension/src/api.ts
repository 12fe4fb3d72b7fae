/**
 * A typed client for jupyter-app-proxy's REST API (docs/rest-api.yaml), with a
 * fallback to Jupyter Server Proxy's `server-proxy/servers-info` for older servers.
 */
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** An app's supervisor state. */
export type AppState =
  | 'idle'
  | 'starting'
  | 'running'
  | 'exited'
  | 'failed'
  | 'crashed'
  | 'stopping'
  | 'stopped';

/** How an app appears in the launcher (`launcher_entry`). */
export interface ILauncherEntry {
  enabled: boolean;
  title: string;
  /** Relative to Jupyter's base URL: `<name>/` unless configured. */
  path_info: string;
  category: string;
  /** Only when an icon is configured: `{base_url}server-proxy/icon/<name>`. */
  icon_url?: string;
}

/** One app's status, as `GET api/app-proxy/apps` lists it. */
export interface IAppStatus {
  name: string;
  title: string;
  managed: boolean;
  state: AppState;
  /** The proxied path, with the base URL and a trailing slash. */
  url: string;
  pid: number | null;
  port: number | null;
  started_at: string | null;
  ready_at: string | null;
  restarts: number;
  last_exit_code: number | null;
  next_start_at: string | null;
  last_activity: string | null;
  requests: number;
  websockets: number;
  error: string | null;
  log_since: number;
  launcher_entry: ILauncherEntry;
  new_browser_tab: boolean;
}

/** What the launcher, the commands and the menus need to know about an app. */
export interface IApp {
  name: string;
  title: string;
  /** Started and stopped by jupyter-app-proxy (false: pre-started, or unknown). */
  managed: boolean;
  launcherEntry: ILauncherEntry;
  newBrowserTab: boolean;
}

interface IServersInfo {
  server_processes: {
    name: string;
    new_browser_tab?: boolean;
    launcher_entry: ILauncherEntry;
  }[];
}

/** A request to the server that did not answer 2xx. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

const API = 'api/app-proxy';

/** GET a JSON document at `path` (relative to the base URL). */
async function getJSON<T>(
  path: string,
  settings: ServerConnection.ISettings
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, path);
  const response = await ServerConnection.makeRequest(url, {}, settings);
  if (!response.ok) {
    throw new ApiError(
      response.status,
      `GET ${url}: ${response.status} ${response.statusText}`
    );
  }
  return (await response.json()) as T;
}

/** Every app's status, sorted by name. */
export async function listStatuses(
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<IAppStatus[]> {
  return (await getJSON<{ apps: IAppStatus[] }>(`${API}/apps`, settings)).apps;
}

/** POST start, stop or restart for one app; `wait` waits for the outcome. */
export async function control(
  name: string,
  action: 'start' | 'stop' | 'restart',
  wait = false,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<IAppStatus> {
  const path = `${API}/apps/${encodeURIComponent(name)}/${action}`;
  const url = URLExt.join(settings.baseUrl, path) + (wait ? '?wait=1' : '');
  const response = await ServerConnection.makeRequest(
    url,
    { method: 'POST' },
    settings
  );
  if (!response.ok) {
    throw new ApiError(response.status, `POST ${url}: ${response.status}`);
  }
  return (await response.json()) as IAppStatus;
}

/** One line of an app's output (`LogLine` in docs/rest-api.yaml). */
export interface ILogLine {
  seq: number;
  time: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

/** A page of buffered output: the lines after `since`, and what to ask for next. */
export interface ILogPage {
  lines: ILogLine[];
  next: number;
  dropped: number;
}

/** The buffered output lines of `name` after the seq `since` (at most `limit`). */
export async function fetchLogs(
  name: string,
  since: number,
  limit = 1000,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<ILogPage> {
  const query = URLExt.objectToQueryString({ since, limit });
  return getJSON<ILogPage>(
    `${API}/apps/${encodeURIComponent(name)}/logs${query}`,
    settings
  );
}

/**
 * The absolute URL of an event stream of the API (`events`, `apps/<name>/logs/stream`)
 * for an `EventSource`, which sends Jupyter's login cookie; the `_xsrf` cookie's value
 * goes in the query (JupyterHub asks for it), the token only where Jupyter puts it in
 * websocket URLs too (`appendToken`).
 */
export function streamUrl(
  path: string,
  query: Record<string, number> = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): string {
  const params: Record<string, string | number> = { ...query };
  if (settings.appendToken && settings.token) {
    params.token = settings.token;
  }
  // An EventSource cannot send X-XSRFToken, and JupyterHub refuses a cookie-authenticated
  // request in cors mode (what an EventSource sends) without an XSRF token: send it here.
  const xsrf = xsrfCookie();
  if (xsrf) {
    params._xsrf = xsrf;
  }
  return (
    URLExt.join(settings.baseUrl, API, path) +
    URLExt.objectToQueryString(params)
  );
}

/** The `_xsrf` cookie of this page (Jupyter's, or JupyterHub's for a single-user server). */
function xsrfCookie(): string {
  const match = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : '';
}

/**
 * The apps to offer: from our API, or from `server-proxy/servers-info` when the
 * server has no app API (404).
 */
export async function listApps(
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<IApp[]> {
  try {
    return (await listStatuses(settings)).map(status => ({
      name: status.name,
      title: status.title,
      managed: status.managed,
      launcherEntry: status.launcher_entry,
      newBrowserTab: status.new_browser_tab
    }));
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) {
      throw error;
    }
  }
  const info = await getJSON<IServersInfo>(
    'server-proxy/servers-info',
    settings
  );
  return info.server_processes
    .map(server => ({
      name: server.name,
      title: server.launcher_entry.title || server.name,
      managed: false, // no app API: nothing to start, stop or read logs from
      launcherEntry: server.launcher_entry,
      newBrowserTab: server.new_browser_tab ?? true
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The address a launcher entry opens: the base URL joined with its `path_info`. */
export function appUrl(app: IApp): string {
  return URLExt.join(
    PageConfig.getBaseUrl(),
    app.launcherEntry.path_info || `${app.name}/`
  );
}

/** Fetch an (authenticated) icon: its media type and body. */
export async function fetchIcon(
  url: string,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<{ type: string; body: Blob }> {
  // icon_url is a path on this server, base URL included; makeRequest wants it whole.
  const absolute = new URL(url, settings.baseUrl).href;
  const response = await ServerConnection.makeRequest(absolute, {}, settings);
  if (!response.ok) {
    throw new ApiError(response.status, `GET ${url}: ${response.status}`);
  }
  const type = (response.headers.get('Content-Type') ?? '').split(';')[0];
  return { type: type.trim().toLowerCase(), body: await response.blob() };
}
