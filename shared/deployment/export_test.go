package deployment

// BySid lets the external test package (events_test.go, which uses
// deploymenttest and so cannot be package deployment) read a policy's
// statements by id, as the package's own tests do.
var BySid = bySid
