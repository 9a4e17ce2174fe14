// Package docker runs xrdp servers as containers on the host's Docker Engine,
// through the Engine's Go SDK (github.com/moby/moby/client), negotiating the API
// version (Debian 12's engine speaks 1.41).
//
// Ownership: every container lucid-rdp creates carries the labels
// io.lucid-rdp.managed=true, io.lucid-rdp.server=NAME,
// io.lucid-rdp.spec-hash=HASH and io.lucid-rdp.deployment=ID and is named
// lucid-rdp-NAME. ID is made once per state folder and kept in
// state_dir/deployment-id, so several lucid-rdp deployments (say, two test runs)
// can share one engine. A container without the managed label, or with another
// deployment's id, does not exist for this package, even when its name matches;
// such a name clash fails that server with a message saying so. Containers from
// a lucid-rdp that predates deployment ids (managed label, no deployment label)
// are adopted, so an upgrade does not orphan them.
//
// Homes: a server's /home is the host folder the spec names (home), or the
// volume lucid-rdp-NAME-home, made with the server's labels at its first start.
// lucid-rdp never removes either: replacing or removing a server keeps its
// users' files. The spec's users_file is bind-mounted read-only at
// /etc/lucid-rdp/users, where the image's entrypoint makes the accounts at each
// start; no hash goes into env, labels or the image.
//
// Each server's rendered xrdp.ini and sesman.ini live in
// state_dir/docker/NAME/ and are bind-mounted read-only over the image's own, so
// the spec's security and session settings apply inside the container. Settings
// that need no restart are kept in settings.json beside them (labels cannot
// change after creation).
//
// Observation is one list call per pass, filtered by label. Notify follows the
// Engine's event stream for labelled containers (die, oom, destroy) and reopens
// it from where it broke off when the stream fails.
package docker
