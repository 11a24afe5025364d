/**
 * The one version of the proxy and its CLIs (`--version`), also in the `s3proxy_build_info`
 * metric. Keep it equal to the Helm chart's `appVersion`.
 *
 * @module
 */

/** The version of this release. */
export const VERSION = "0.1.0";
