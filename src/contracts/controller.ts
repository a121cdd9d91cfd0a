// What a deployment may tell `fleetwright controller` through its environment
// instead of a flag (the flag wins).

/** The image of browser and runner pods (--image); unset: DEFAULT_IMAGE (image.ts). */
export const IMAGE_ENV = 'FLEETWRIGHT_IMAGE';
/** The gateway's external URL (--gateway-url). */
export const GATEWAY_URL_ENV = 'FLEETWRIGHT_GATEWAY_URL';
/** The report store's URL as runner pods reach it (--report-store-url). */
export const REPORT_STORE_URL_ENV = 'FLEETWRIGHT_REPORT_STORE_URL';
