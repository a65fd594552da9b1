package tunnel

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

func init() {
	RegisterTargetScheme("docker", func(rest string, _ TargetDefaults) (Kind, error) {
		return parseDockerTarget("docker", rest)
	})
	RegisterTargetScheme("docker-image", func(rest string, _ TargetDefaults) (Kind, error) {
		return parseDockerTarget("docker-image", rest)
	})
}

// parseDockerTarget reads what follows the scheme of a target naming a
// container:
//
//	docker://CONTAINER[?user=U]
//	docker-image://IMAGE[?keep=true&user=U&network=N]
//
// CONTAINER is a name or id; IMAGE is any reference the daemon knows
// (repository:tag, registry:port/repository, @sha256:digest). The options
// are split off at the first '?', which no container name or image
// reference contains. The host name is the container name or image
// reference.
func parseDockerTarget(scheme, rest string) (Kind, error) {
	target := scheme + "://" + rest
	ref, rawQuery, _ := strings.Cut(rest, "?")
	if ref == "" {
		what := map[string]string{"docker": "container", "docker-image": "image"}[scheme]
		return nil, fmt.Errorf("tunnel: target %q names no %s (%s://%s)", target, what, scheme, strings.ToUpper(what))
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("tunnel: target %q: %w", target, err)
	}
	opts := &DockerOptions{User: q.Get("user")}
	known := []string{"user"}
	if scheme == "docker-image" {
		known = append(known, "keep", "network")
		opts.Network = q.Get("network")
		if k := q.Get("keep"); k != "" {
			if opts.Keep, err = strconv.ParseBool(k); err != nil {
				return nil, fmt.Errorf("tunnel: target %q: keep=%q is not true or false", target, k)
			}
		}
	}
	for k := range q {
		if !strings.Contains(" "+strings.Join(known, " ")+" ", " "+k+" ") {
			return nil, fmt.Errorf("tunnel: target %q: unknown option %q (known: %s)", target, k, strings.Join(known, ", "))
		}
	}
	if scheme == "docker" {
		return DockerContainer(ref, ref, opts), nil
	}
	return DockerImage(ref, ref, opts), nil
}
