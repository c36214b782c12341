import { baseStylesheet } from '@palisade/shared';

/** The panel's stylesheet, served from `/panel/assets/panel.css`: the shared base in the gateway's colour. */
export const PANEL_CSS = baseStylesheet({ brand: '#17324d', timelineDateWidth: 170 });
