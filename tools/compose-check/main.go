// roost-compose-check loads a Compose file with compose-go, the loader of
// `docker compose` itself: it validates the file against the Compose
// Specification's JSON schema, checks its consistency (depends_on, networks,
// volumes) and prints the normalized model as JSON, as `docker compose
// config --format json` does, with no Docker engine. The environment of the
// caller is not used, so ${VAR:-default} always takes its default and the
// output is the same everywhere. Every profile is active.
//
//	roost-compose-check deploy/compose.yaml > model.json
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: roost-compose-check COMPOSE_FILE...")
		os.Exit(2)
	}
	opts, err := cli.NewProjectOptions(os.Args[1:],
		cli.WithEnv(nil),
		cli.WithInterpolation(true),
		cli.WithConsistency(true),
		cli.WithProfiles([]string{"*"}))
	if err != nil {
		fmt.Fprintln(os.Stderr, "roost-compose-check:", err)
		os.Exit(1)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "roost-compose-check:", err)
		os.Exit(1)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, "roost-compose-check:", err)
		os.Exit(1)
	}
	os.Stdout.Write(append(out, '\n'))
}
