package agent

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// ProtocolVersion changes whenever the frames or their payloads change in a
// way an older peer would misread.
const ProtocolVersion = 2

// Hello is the first frame each side sends.
type Hello struct {
	Protocol int    `json:"protocol"`
	Version  string `json:"version"` // chopplan's release version
	Build    string `json:"build"`   // the build identity of the executable
	OS       string `json:"os,omitempty"`
	Arch     string `json:"arch,omitempty"`
	PID      int    `json:"pid,omitempty"`
	// Depth and MaxDepth are set by the controller: how deep this agent sits
	// in a chain of via tunnels, and the deepest allowed.
	Depth    int `json:"depth,omitempty"`
	MaxDepth int `json:"max_depth,omitempty"`
}

func (h Hello) String() string {
	return fmt.Sprintf("chopplan %s (protocol %d, build %s)", h.Version, h.Protocol, shortBuild(h.Build))
}

func shortBuild(b string) string {
	if len(b) > 12 {
		return b[:12]
	}
	return b
}

// VersionError is a handshake between incompatible ends.
type VersionError struct {
	Host              string
	Controller, Agent Hello
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("agent: version mismatch on %s: controller is %s, agent is %s", e.Host, e.Controller, e.Agent)
}

// StartError is an agent that did not answer the handshake: it did not
// start, or something wrote to its stdout first (a login banner, a shell
// profile, a sudo prompt).
type StartError struct {
	Host   string
	Reason string
}

func (e *StartError) Error() string {
	return fmt.Sprintf("agent: agent on %s did not start: %s", e.Host, e.Reason)
}

// readHello reads the peer's hello: the first frame, which must be small.
func readHello(host string, r *bufio.Reader) (Hello, error) {
	if head, err := r.Peek(frameHeaderLen); err == nil {
		n := int(head[0])<<24 | int(head[1])<<16 | int(head[2])<<8 | int(head[3])
		if frameType(head[4]) != frameHello || n > 4096 || n < frameHeaderLen-4 {
			junk, _ := r.Peek(min(r.Buffered(), 200))
			return Hello{}, &StartError{Host: host, Reason: "unexpected output instead of the handshake: " + strconv.Quote(strings.ToValidUTF8(string(junk), "?"))}
		}
	}
	f, err := readFrame(r)
	if err != nil {
		return Hello{}, &StartError{Host: host, Reason: "no handshake: " + describeEOF(err)}
	}
	var h Hello
	if err := json.Unmarshal(f.payload, &h); err != nil {
		return Hello{}, &ProtocolError{Host: host, Reason: "malformed handshake: " + err.Error()}
	}
	return h, nil
}

func describeEOF(err error) string {
	if err.Error() == "EOF" {
		return "the stream closed (the agent exited or could not be started)"
	}
	return err.Error()
}
