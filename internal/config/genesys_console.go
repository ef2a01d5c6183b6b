package config

import (
	"go.yaml.in/yaml/v3"
)

// consoleCredentials lists the genesys keys of the console's sign-in
// client.
var consoleCredentials = []string{"console_client_id", "console_client_secret_env"}

// genesysConsole reads console_client_id and console_client_secret_env
// (live mode) into g: both or neither, the secret from the environment, and
// a client other than the service's (a Genesys OAuth client has one grant
// type: the service's is client credentials, the console's Code
// Authorization).
func (p *parser) genesysConsole(f map[string]*yaml.Node, path string, g *Genesys) error {
	idNode, envNode := f["console_client_id"], f["console_client_secret_env"]
	switch {
	case idNode == nil && envNode == nil:
		return nil
	case idNode == nil:
		return p.errorf(envNode, join(path, "console_client_id"), "is required when console_client_secret_env is given")
	case envNode == nil:
		return p.errorf(idNode, join(path, "console_client_secret_env"), "is required when console_client_id is given")
	}
	id, err := p.str(idNode, join(path, "console_client_id"))
	if err != nil {
		return err
	}
	if id == "" {
		return p.errorf(idNode, join(path, "console_client_id"), "must not be empty")
	}
	if id == g.ClientID {
		return p.errorf(idNode, join(path, "console_client_id"), "must be another OAuth client than client_id: the console's is of grant type Code Authorization, the service's of client credentials")
	}
	name, err := p.str(envNode, join(path, "console_client_secret_env"))
	if err != nil {
		return err
	}
	secret, err := p.fromEnv(envNode, join(path, "console_client_secret_env"), name)
	if err != nil {
		return err
	}
	g.ConsoleClientID, g.ConsoleClientSecret = id, secret
	return nil
}
