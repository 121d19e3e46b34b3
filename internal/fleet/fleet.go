// Package fleet is the fleet load tool: many virtual handsets on the
// agent's own uplink code in one process.
package fleet
