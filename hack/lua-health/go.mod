// The Argo CD health-check harness: runs a resource_customizations health.lua with gopher-lua, the
// Lua engine Argo CD embeds, over objects captured from the real API server.
module example.invalid/lua-health

go 1.25.0

require github.com/yuin/gopher-lua v1.1.2
