/**
 * Launcher icons: a LabIcon per app from its `icon_url` (SVG as is, PNG and other
 * images wrapped in an SVG `<image>`), or a default "app" icon, never a blank.
 */
import { LabIcon } from '@jupyterlab/ui-components';

import { fetchIcon } from './api';

const APP_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">' +
  '<rect class="jp-icon3" fill="#616161" x="2" y="3" width="20" height="18" rx="2"/>' +
  '<rect fill="#fff" x="4" y="7" width="16" height="12" rx="1"/>' +
  '<circle class="jp-icon3" fill="#616161" cx="5" cy="5" r="0.9"/>' +
  '<path class="jp-icon-brand0" fill="#f37626" d="M8 10h8v2H8zm0 4h5v2H8z"/>' +
  '</svg>';

/** The icon of an app that has none configured (or whose icon cannot be loaded). */
export const appIcon = new LabIcon({
  name: 'jupyter-app-proxy:app',
  svgstr: APP_SVG
});

function blobToDataUrl(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as string);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** An SVG document showing a raster image (a data: URL) at icon size. */
export function wrapImage(dataUrl: string): string {
  return (
    '<svg xmlns="http://www.w3.org/2000/svg" ' +
    'xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 64 64" width="16" height="16">' +
    `<image width="64" height="64" href="${dataUrl}" xlink:href="${dataUrl}" ` +
    'preserveAspectRatio="xMidYMid meet"/></svg>'
  );
}

/** The SVG text of an icon, or null when it is neither SVG nor an image. */
export async function iconSvg(url: string): Promise<string | null> {
  const { type, body } = await fetchIcon(url);
  if (type === 'image/svg+xml') {
    const text = await body.text();
    return text.includes('<svg') ? text : null;
  }
  if (type.startsWith('image/')) {
    return wrapImage(await blobToDataUrl(body));
  }
  return null;
}

/** The LabIcon for an app: its configured icon, or {@link appIcon}. */
export async function iconFor(
  name: string,
  url: string | undefined
): Promise<LabIcon> {
  if (!url) {
    return appIcon;
  }
  try {
    const svgstr = await iconSvg(url);
    if (svgstr) {
      return new LabIcon({ name: `jupyter-app-proxy:app-${name}`, svgstr });
    }
    console.warn(`jupyter-app-proxy: the icon of ${name} is not an image`);
  } catch (error) {
    console.warn(`jupyter-app-proxy: no icon for ${name}:`, error);
  }
  return appIcon;
}
