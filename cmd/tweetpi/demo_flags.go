package main

import "flag"

// demoFlags are the demo's flags, the same in every build (the packaged
// binary is built with -tags nodemo: see demo_nodemo.go).
func demoFlags(fs *flag.FlagSet) (api *string, verbose *bool) {
	api = fs.String("api", "v2", "the API `version` the fake speaks and the client uses: v2 or v1.1")
	verbose = fs.Bool("v", false, "print the daemon's log too")
	return api, verbose
}
