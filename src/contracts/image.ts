// The one image of every Fleetwright process (Dockerfile): the controller,
// the gateway, the report store, and the browser and runner pods the
// controller creates, which run it unless a pool or run names another.

/** The image hack/ builds and imports into the local node; what browser and runner pods run by default. */
export const DEFAULT_IMAGE = 'localhost/fleetwright/fleetwright:dev';
