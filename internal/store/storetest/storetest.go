// Package storetest gives the tests of other packages the store options
// the daemon opens its store with: the config's bounds. Only tests import
// it (internal/archtest checks); it is not in internal/testkit because the
// store's own tests use testkit. The store's own tests, which cannot import
// it, have the same helper (testOptions): the store sits below config and
// never imports it.
package storetest

import (
	"cmp"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// Options returns o over the config's bounds (config.Store*): a zero bound
// in o takes the config's, so that a test names only what it is about
// (NoSync, Now, a short LockTimeout).
func Options(o store.Options) store.Options {
	o.LockTimeout = cmp.Or(o.LockTimeout, config.StoreLockTimeout)
	o.DeploymentHistory = cmp.Or(o.DeploymentHistory, config.StoreDeploymentHistory)
	o.CheckHistory = cmp.Or(o.CheckHistory, config.StoreCheckHistory)
	o.CheckRetention = cmp.Or(o.CheckRetention, config.StoreCheckRetention)
	o.DeadLetters = cmp.Or(o.DeadLetters, config.StoreDeadLetters)
	o.RollupRetention = cmp.Or(o.RollupRetention, config.StoreRollupRetention)
	o.RollupHistory = cmp.Or(o.RollupHistory, config.StoreRollupHistory)
	return o
}
