package tunnel

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// DockerSchemes are the target schemes ParseDockerTarget reads.
var DockerSchemes = []string{"docker", "docker-image"}

// ParseDockerTarget reads a command-line target naming a container:
//
//	docker://CONTAINER[?user=U]
//	docker-image://IMAGE[?keep=true&user=U&network=N]
//
// CONTAINER is a name or id; IMAGE is any reference the daemon knows
// (repository:tag, registry:port/repository, @sha256:digest). The query
// is split at the first '?', which no container name or image reference
// contains. The host name is the container name or image reference.
func ParseDockerTarget(s string) (Kind, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "docker" && scheme != "docker-image") {
		return nil, fmt.Errorf("docker: target %q: expected docker://CONTAINER or docker-image://IMAGE", s)
	}
	ref, rawQuery, _ := strings.Cut(rest, "?")
	if ref == "" {
		return nil, fmt.Errorf("docker: target %q names no %s", s, map[string]string{"docker": "container", "docker-image": "image"}[scheme])
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("docker: target %q: %w", s, err)
	}
	opts := &DockerOptions{User: q.Get("user")}
	known := map[string]bool{"user": true}
	if scheme == "docker-image" {
		known["keep"], known["network"] = true, true
		opts.Network = q.Get("network")
		if k := q.Get("keep"); k != "" {
			if opts.Keep, err = strconv.ParseBool(k); err != nil {
				return nil, fmt.Errorf("docker: target %q: keep=%q is not true or false", s, k)
			}
		}
	}
	for k := range q {
		if !known[k] {
			return nil, fmt.Errorf("docker: target %q: unknown option %q", s, k)
		}
	}
	if scheme == "docker" {
		return DockerContainer(ref, ref, opts), nil
	}
	return DockerImage(ref, ref, opts), nil
}
