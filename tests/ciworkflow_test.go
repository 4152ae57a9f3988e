package tests

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The CI workflow users copy (.github/workflows/ci.yml) must run what the
// README says CI runs, and what .ci/run runs: make lint, then make test.
// These checks read the three files and the repository beside them; they
// need no emulator (TestMain drives nothing for them) and take milliseconds.
// TestCIWorkflowChecksFail feeds each check a broken copy, so none of them
// can pass by reading nothing.

// ciCommands are CI's commands, in order: the README's CI block must name
// exactly these, and the workflow's test job and .ci/run must run exactly
// the README's block.
var ciCommands = []string{"make lint", "make test"}

const (
	ciWorkflowFile = ".github/workflows/ci.yml"
	ciRunFile      = ".ci/run"
	ciReadmeFile   = "README.md"
	// ciMaxTimeout bounds every job's timeout-minutes: make test takes about
	// 9 minutes, and a hung emulator must not hold a runner for GitHub's
	// default of 6 hours.
	ciMaxTimeout = 30
)

// ciSetupActions are the actions the test job may use besides its two
// commands: they put tools on the PATH, fetch the tree or keep caches and
// reports, and none of them runs a test.
var ciSetupActions = []string{
	"actions/checkout", "actions/setup-go", "actions/setup-python", "actions/setup-node",
	"hashicorp/setup-terraform", "actions/cache", "actions/upload-artifact",
}

type ciWorkflow struct {
	On          map[string]any    `yaml:"on"`
	Permissions any               `yaml:"permissions"`
	Env         map[string]any    `yaml:"env"`
	Defaults    any               `yaml:"defaults"`
	Concurrency ciConcurrency     `yaml:"concurrency"`
	Jobs        map[string]*ciJob `yaml:"jobs"`
}

type ciConcurrency struct {
	Group            string `yaml:"group"`
	CancelInProgress any    `yaml:"cancel-in-progress"`
}

type ciJob struct {
	RunsOn          any            `yaml:"runs-on"`
	If              string         `yaml:"if"`
	TimeoutMinutes  int            `yaml:"timeout-minutes"`
	ContinueOnError any            `yaml:"continue-on-error"`
	Permissions     any            `yaml:"permissions"`
	Env             map[string]any `yaml:"env"`
	Defaults        any            `yaml:"defaults"`
	Strategy        any            `yaml:"strategy"`
	Container       any            `yaml:"container"`
	Steps           []ciStep       `yaml:"steps"`
}

type ciStep struct {
	Name             string         `yaml:"name"`
	If               string         `yaml:"if"`
	Uses             string         `yaml:"uses"`
	Run              string         `yaml:"run"`
	With             map[string]any `yaml:"with"`
	Env              map[string]any `yaml:"env"`
	ContinueOnError  any            `yaml:"continue-on-error"`
	WorkingDirectory string         `yaml:"working-directory"`
	Shell            string         `yaml:"shell"`
}

// action is the step's action without its version ("actions/setup-go").
func (s ciStep) action() string {
	name, _, _ := strings.Cut(s.Uses, "@")
	return name
}

// with is one of the step's inputs as text ("" when absent).
func (s ciStep) with(key string) string {
	v, ok := s.With[key]
	if !ok || v == nil {
		return ""
	}
	return strings.TrimSpace(fmt.Sprint(v))
}

// label names a step in a problem.
func (s ciStep) label(i int) string {
	switch {
	case s.Name != "":
		return fmt.Sprintf("step %d (%s)", i+1, s.Name)
	case s.Uses != "":
		return fmt.Sprintf("step %d (uses %s)", i+1, s.Uses)
	default:
		return fmt.Sprintf("step %d (run %q)", i+1, strings.TrimSpace(s.Run))
	}
}

// runLines are the job's shell command lines, in order.
func (j *ciJob) runLines() (lines []string) {
	for _, s := range j.Steps {
		for _, line := range strings.Split(s.Run, "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				lines = append(lines, line)
			}
		}
	}
	return lines
}

// firstRun is the index of the job's first run step (len(Steps) if none).
func (j *ciJob) firstRun() int {
	for i, s := range j.Steps {
		if s.Run != "" {
			return i
		}
	}
	return len(j.Steps)
}

// uses returns the job's steps that use action, with their indexes.
func (j *ciJob) uses(action string) (steps []ciStep, at []int) {
	for i, s := range j.Steps {
		if s.action() == action {
			steps = append(steps, s)
			at = append(at, i)
		}
	}
	return steps, at
}

// ciInputs are the texts the checks read; repo reads any other file of the
// repository by its path from the root.
type ciInputs struct {
	workflow, ciRun, readme string
	repo                    func(path string) ([]byte, error)
}

// ciContext is what every check gets: the inputs, parsed.
type ciContext struct {
	in          ciInputs
	wf          ciWorkflow
	readmeCmds  []string
	readmeError error
}

func newCIContext(in ciInputs) (*ciContext, error) {
	c := &ciContext{in: in}
	if err := yaml.Unmarshal([]byte(in.workflow), &c.wf); err != nil {
		return nil, fmt.Errorf("%s: %v", ciWorkflowFile, err)
	}
	c.readmeCmds, c.readmeError = readmeCICommands(in.readme)
	return c, nil
}

// job returns the named job, or nil with a problem.
func (c *ciContext) job(name string, problems *[]string) *ciJob {
	j := c.wf.Jobs[name]
	if j == nil {
		*problems = append(*problems, fmt.Sprintf("%s has no job %q", ciWorkflowFile, name))
	}
	return j
}

var (
	ciHeading        = regexp.MustCompile(`^#{1,6} `)
	ciHeadingLine    = regexp.MustCompile(`(?m)^#{1,6} `)
	ciSectionHeading = regexp.MustCompile(`(?m)^#{1,6} CI[ \t]*$`)
	ciPinnedRef      = regexp.MustCompile(`^(v\d+(\.\d+){0,2}|[0-9a-f]{40})$`)
	ciActionName     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?$`)
)

// readmeCICommands reads the commands of the first sh block of the README's
// "CI" section (a heading named CI, up to the next heading), without their
// comments.
func readmeCICommands(readme string) ([]string, error) {
	var inSection, inBlock, found bool
	var cmds []string
	sc := bufio.NewScanner(strings.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case inBlock && strings.HasPrefix(line, "```"):
			return cmds, nil
		case inBlock:
			cmd, _, _ := strings.Cut(line, "#")
			if cmd = strings.Join(strings.Fields(cmd), " "); cmd != "" {
				cmds = append(cmds, cmd)
			}
		case strings.HasPrefix(line, "```"):
			// A code block elsewhere, or in the section but not sh: step over
			// it, so a "# comment" inside it is not read as a heading.
			if inSection && strings.TrimSpace(strings.TrimPrefix(line, "```")) == "sh" {
				inBlock = true
				continue
			}
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "```") {
					break
				}
			}
		case ciHeading.MatchString(line):
			title := strings.TrimSpace(strings.TrimLeft(line, "#"))
			if inSection {
				return nil, fmt.Errorf("%s: the CI section has no ```sh block of commands", ciReadmeFile)
			}
			inSection = title == "CI"
			found = found || inSection
		}
	}
	if inBlock {
		return nil, fmt.Errorf("%s: the CI section's ```sh block is not closed", ciReadmeFile)
	}
	if !found {
		return nil, fmt.Errorf(`%s: no section headed "CI"`, ciReadmeFile)
	}
	return nil, fmt.Errorf("%s: the CI section has no ```sh block of commands", ciReadmeFile)
}

// checkReadme: the README's CI block names exactly CI's commands, the CI
// section names the workflow and .ci/run, and the layout list gives the
// reason for .github/ at the top of the tree.
func checkReadme(c *ciContext) (problems []string) {
	if c.readmeError != nil {
		return []string{c.readmeError.Error()}
	}
	if !slices.Equal(c.readmeCmds, ciCommands) {
		problems = append(problems, fmt.Sprintf("%s: the CI block runs %q, want %q", ciReadmeFile, c.readmeCmds, ciCommands))
	}
	// The section: from its heading to the next one.
	section := c.in.readme[ciSectionHeading.FindStringIndex(c.in.readme)[1]:]
	if end := ciHeadingLine.FindStringIndex(section); end != nil {
		section = section[:end[0]]
	}
	for _, name := range []string{ciWorkflowFile, ciRunFile} {
		if !strings.Contains(section, "`"+name+"`") {
			problems = append(problems, fmt.Sprintf("%s: the CI section does not name `%s`", ciReadmeFile, name))
		}
	}
	// The layout list: a line for .github/ with its reason after the path.
	var reason bool
	for _, line := range strings.Split(c.in.readme, "\n") {
		if rest, ok := strings.CutPrefix(line, ".github/"); ok {
			_, why, _ := strings.Cut(rest, " ")
			reason = reason || len(strings.Fields(why)) >= 3
		}
	}
	if !reason {
		problems = append(problems, fmt.Sprintf("%s: the layout list has no line for .github/ giving its reason", ciReadmeFile))
	}
	return problems
}

// checkCIRun: .ci/run stops at the first failure and runs exactly the
// README's commands; besides them it may only set shell options and cd.
func checkCIRun(c *ciContext) (problems []string) {
	var cmds []string
	var errexit bool
	for _, line := range strings.Split(c.in.ciRun, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "set -"):
			flags, _, _ := strings.Cut(strings.TrimPrefix(line, "set -"), " ")
			errexit = errexit || strings.Contains(flags, "e")
		case strings.HasPrefix(line, "cd "):
		default:
			cmds = append(cmds, strings.Join(strings.Fields(line), " "))
		}
	}
	if !errexit {
		problems = append(problems, ciRunFile+": no `set -e`: a failing `make lint` would not stop it")
	}
	if !slices.Equal(cmds, c.readmeCmds) {
		problems = append(problems, fmt.Sprintf("%s runs %q, want the README's %q", ciRunFile, cmds, c.readmeCmds))
	}
	return problems
}

// checkJobs: the workflow has the two jobs and no other (one more could run
// tests the README does not name).
func checkJobs(c *ciContext) (problems []string) {
	names := sortedJobs(c.wf)
	if want := []string{"aws-artifacts", "test"}; !slices.Equal(names, want) {
		problems = append(problems, fmt.Sprintf("%s has jobs %q, want %q", ciWorkflowFile, names, want))
	}
	return problems
}

// noLeeway reports what lets a command step be skipped, fail without
// failing the job, or run differently from .ci/run.
func noLeeway(job string, i int, s ciStep) (problems []string) {
	where := fmt.Sprintf("job %s %s", job, s.label(i))
	if s.If != "" {
		problems = append(problems, where+" has if: "+s.If)
	}
	if s.ContinueOnError != nil && fmt.Sprint(s.ContinueOnError) != "false" {
		problems = append(problems, where+" has continue-on-error")
	}
	if s.WorkingDirectory != "" {
		problems = append(problems, where+" has working-directory: "+s.WorkingDirectory)
	}
	if s.Shell != "" {
		problems = append(problems, where+" has shell: "+s.Shell)
	}
	if len(s.Env) > 0 {
		problems = append(problems, where+" has env (the commands must run as .ci/run runs them)")
	}
	return problems
}

// checkTestJob: job test runs exactly the README's commands, in order, in
// steps of their own, unconditionally and as .ci/run does; every other
// step is a setup action that runs no test.
func checkTestJob(c *ciContext) (problems []string) {
	j := c.job("test", &problems)
	if j == nil {
		return problems
	}
	if runsOn := fmt.Sprint(j.RunsOn); runsOn != "ubuntu-latest" && !strings.HasPrefix(runsOn, "ubuntu-2") {
		problems = append(problems, fmt.Sprintf("job test runs on %q, want a hosted Ubuntu runner", runsOn))
	}
	if j.If != "" {
		problems = append(problems, "job test has if: "+j.If)
	}
	if j.ContinueOnError != nil && fmt.Sprint(j.ContinueOnError) != "false" {
		problems = append(problems, "job test has continue-on-error")
	}
	if j.Strategy != nil || j.Container != nil {
		problems = append(problems, "job test has a strategy or a container: it must run as .ci/run runs on a fresh machine")
	}
	if len(j.Env) > 0 || j.Defaults != nil || len(c.wf.Env) > 0 || c.wf.Defaults != nil {
		problems = append(problems, "job test has env or defaults (its own or the workflow's): the commands must run as .ci/run runs them")
	}
	var cmds []string
	for i, s := range j.Steps {
		switch {
		case s.Run != "" && s.Uses != "":
			problems = append(problems, fmt.Sprintf("job test %s has both run and uses", s.label(i)))
		case s.Run != "":
			if lines := strings.Split(strings.TrimSpace(s.Run), "\n"); len(lines) != 1 {
				problems = append(problems, fmt.Sprintf("job test %s runs %d lines, want one command per step", s.label(i), len(lines)))
			}
			cmds = append(cmds, strings.Join(strings.Fields(s.Run), " "))
			problems = append(problems, noLeeway("test", i, s)...)
		case s.Uses != "":
			if !slices.Contains(ciSetupActions, s.action()) {
				problems = append(problems, fmt.Sprintf("job test %s: %s is no setup action (the job may run only the README's commands)", s.label(i), s.action()))
			}
		default:
			problems = append(problems, fmt.Sprintf("job test %s has neither run nor uses", s.label(i)))
		}
	}
	if !slices.Equal(cmds, c.readmeCmds) {
		problems = append(problems, fmt.Sprintf("job test runs %q, want exactly the README's %q", cmds, c.readmeCmds))
	}
	return problems
}

// checkTestTools: before its commands, job test checks out the tree and
// sets up what the Makefile expects on the PATH: Python for MiniStack with
// pip's cache keyed on the file that pins it, Terraform 1.11 unwrapped, and
// Node when the Makefile installs asl-validator with npm.
func checkTestTools(c *ciContext) (problems []string) {
	j := c.job("test", &problems)
	if j == nil {
		return problems
	}
	first := j.firstRun()
	if len(j.Steps) == 0 || j.Steps[0].action() != "actions/checkout" {
		problems = append(problems, "job test does not start with actions/checkout")
	}
	setup := func(action string) (ciStep, bool) {
		steps, at := j.uses(action)
		switch {
		case len(steps) == 0:
			problems = append(problems, "job test does not use "+action)
			return ciStep{}, false
		case len(steps) > 1:
			problems = append(problems, fmt.Sprintf("job test uses %s %d times", action, len(steps)))
		case at[0] > first:
			problems = append(problems, fmt.Sprintf("job test uses %s after its first command", action))
		}
		return steps[0], true
	}
	if py, ok := setup("actions/setup-python"); ok {
		if v := py.with("python-version"); v != "3.11" && v != "3.12" {
			problems = append(problems, fmt.Sprintf("job test: python-version %q, want 3.11 or 3.12 (MiniStack needs >= 3.10)", v))
		}
		if py.with("cache") != "pip" {
			problems = append(problems, "job test: setup-python has no pip cache (cache: pip)")
		}
		problems = append(problems, checkPipCacheKey(c, py.with("cache-dependency-path"))...)
	}
	if tf, ok := setup("hashicorp/setup-terraform"); ok {
		problems = append(problems, checkTerraformSetup("test", tf)...)
	}
	makefile, err := c.in.repo("Makefile")
	if err != nil {
		problems = append(problems, err.Error())
	} else if strings.Contains(string(makefile), "npm install") {
		if node, ok := setup("actions/setup-node"); ok && node.with("node-version") == "" {
			problems = append(problems, "job test: setup-node has no node-version")
		}
	}
	return problems
}

// checkPipCacheKey: the pip cache is keyed on files that exist and pin
// MiniStack, so a new pin makes a new cache.
func checkPipCacheKey(c *ciContext, paths string) (problems []string) {
	if paths == "" {
		return []string{"job test: setup-python has no cache-dependency-path (the pins are not in a requirements file)"}
	}
	var pins bool
	for _, p := range strings.Fields(paths) {
		b, err := c.in.repo(p)
		if err != nil {
			problems = append(problems, fmt.Sprintf("job test: the pip cache's cache-dependency-path %s: %v", p, err))
			continue
		}
		pins = pins || strings.Contains(string(b), "ministack==")
	}
	if !pins && len(problems) == 0 {
		problems = append(problems, fmt.Sprintf("job test: the pip cache is keyed on %s, which does not pin ministack==", paths))
	}
	return problems
}

// checkTerraformSetup: Terraform 1.11.x, without the wrapper that would
// mix its own lines into the output infra/apply_test.go reads.
func checkTerraformSetup(job string, tf ciStep) (problems []string) {
	if v := tf.with("terraform_version"); !regexp.MustCompile(`^~?1\.11(\.\d+)?$`).MatchString(v) {
		problems = append(problems, fmt.Sprintf("job %s: terraform_version %q, want 1.11.x", job, v))
	}
	if tf.with("terraform_wrapper") != "false" {
		problems = append(problems, fmt.Sprintf("job %s: setup-terraform without terraform_wrapper: false", job))
	}
	return problems
}

// checkAWSArtifacts: job aws-artifacts builds the arm64 zips with make
// build-aws, then checks infra's format and validates it after an init
// without a backend, unconditionally.
func checkAWSArtifacts(c *ciContext) (problems []string) {
	j := c.job("aws-artifacts", &problems)
	if j == nil {
		return problems
	}
	if j.If != "" || (j.ContinueOnError != nil && fmt.Sprint(j.ContinueOnError) != "false") {
		problems = append(problems, "job aws-artifacts has if or continue-on-error")
	}
	if len(j.Steps) == 0 || j.Steps[0].action() != "actions/checkout" {
		problems = append(problems, "job aws-artifacts does not start with actions/checkout")
	}
	tf, at := j.uses("hashicorp/setup-terraform")
	switch {
	case len(tf) != 1:
		problems = append(problems, fmt.Sprintf("job aws-artifacts uses hashicorp/setup-terraform %d times, want once", len(tf)))
	case at[0] > j.firstRun():
		problems = append(problems, "job aws-artifacts sets up Terraform after its first command")
	default:
		problems = append(problems, checkTerraformSetup("aws-artifacts", tf[0])...)
	}
	for i, s := range j.Steps {
		if s.Run != "" {
			problems = append(problems, noLeeway("aws-artifacts", i, s)...)
		}
	}
	lines := j.runLines()
	found := map[string]int{}
	for n, line := range lines {
		f := strings.Fields(line)
		var kind string
		switch {
		case slices.Equal(f, []string{"make", "build-aws"}):
			kind = "build"
		case len(f) > 1 && f[0] == "terraform":
			dir, sub, rest := terraformArgs(f[1:])
			switch {
			case sub == "fmt" && slices.Contains(rest, "-check") && slices.Contains(rest, "-recursive") &&
				(dir == "infra" || (dir == "" && slices.Contains(rest, "infra"))):
				kind = "fmt"
			case sub == "init" && dir == "infra" && slices.Contains(rest, "-backend=false"):
				kind = "init"
			case sub == "validate" && dir == "infra":
				kind = "validate"
			}
		}
		if _, seen := found[kind]; kind != "" && !seen {
			found[kind] = n
		}
	}
	want := map[string]string{
		"build":    "make build-aws",
		"fmt":      "terraform fmt -check -recursive infra",
		"init":     "terraform -chdir=infra init -backend=false",
		"validate": "terraform -chdir=infra validate",
	}
	for _, kind := range []string{"build", "fmt", "init", "validate"} {
		if _, ok := found[kind]; !ok {
			problems = append(problems, fmt.Sprintf("job aws-artifacts does not run `%s`", want[kind]))
		}
	}
	if i, ok := found["init"]; ok {
		if v, ok := found["validate"]; ok && v < i {
			problems = append(problems, "job aws-artifacts validates before terraform init")
		}
	}
	return problems
}

// terraformArgs splits terraform's arguments into -chdir's directory, the
// subcommand and the rest.
func terraformArgs(args []string) (dir, sub string, rest []string) {
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "-chdir="):
			dir = strings.TrimPrefix(a, "-chdir=")
		case sub == "" && !strings.HasPrefix(a, "-"):
			sub = a
		case sub != "":
			return dir, sub, args[i:]
		}
	}
	return dir, sub, nil
}

// checkPinned: every action is owner/name@ a version tag or a commit.
func checkPinned(c *ciContext) (problems []string) {
	var n int
	for _, name := range sortedJobs(c.wf) {
		for i, s := range c.wf.Jobs[name].Steps {
			if s.Uses == "" {
				continue
			}
			n++
			action, ref, ok := strings.Cut(s.Uses, "@")
			if !ok || !ciActionName.MatchString(action) || !ciPinnedRef.MatchString(ref) {
				problems = append(problems, fmt.Sprintf("job %s %s: want owner/name@vN (a version tag) or @<commit>, got %q", name, s.label(i), s.Uses))
			}
		}
	}
	if n == 0 {
		problems = append(problems, ciWorkflowFile+" uses no action at all")
	}
	return problems
}

// checkGoVersion: every job sets Go up once, before its commands, at the
// version go.mod names, with the module and build caches keyed on go.sum.
func checkGoVersion(c *ciContext) (problems []string) {
	for _, name := range sortedJobs(c.wf) {
		j := c.wf.Jobs[name]
		steps, at := j.uses("actions/setup-go")
		if len(steps) != 1 {
			problems = append(problems, fmt.Sprintf("job %s uses actions/setup-go %d times, want once", name, len(steps)))
			continue
		}
		s := steps[0]
		if at[0] > j.firstRun() {
			problems = append(problems, fmt.Sprintf("job %s sets Go up after its first command", name))
		}
		if s.with("go-version-file") != "go.mod" || s.with("go-version") != "" {
			problems = append(problems, fmt.Sprintf("job %s: Go's version must come from go.mod (go-version-file: go.mod, no go-version)", name))
		}
		if s.with("cache") == "false" {
			problems = append(problems, fmt.Sprintf("job %s: setup-go's cache is off", name))
		}
		if s.with("cache-dependency-path") != "go.sum" {
			problems = append(problems, fmt.Sprintf("job %s: setup-go's cache-dependency-path is %q, want go.sum", name, s.with("cache-dependency-path")))
		}
	}
	if _, err := c.in.repo("go.mod"); err != nil {
		problems = append(problems, err.Error())
	}
	return problems
}

// checkTimeouts: every job has a timeout, at most ciMaxTimeout minutes.
func checkTimeouts(c *ciContext) (problems []string) {
	for _, name := range sortedJobs(c.wf) {
		if t := c.wf.Jobs[name].TimeoutMinutes; t <= 0 || t > ciMaxTimeout {
			problems = append(problems, fmt.Sprintf("job %s: timeout-minutes %d, want 1 to %d", name, t, ciMaxTimeout))
		}
	}
	return problems
}

// checkTriggers: runs on pushes to main and on pull requests, reads the
// repository and nothing more, and a new push cancels the run it supersedes.
func checkTriggers(c *ciContext) (problems []string) {
	push, _ := c.wf.On["push"].(map[string]any)
	branches, _ := push["branches"].([]any)
	if !slices.ContainsFunc(branches, func(b any) bool { return b == "main" }) {
		problems = append(problems, "the workflow does not run on push to main")
	}
	if _, ok := c.wf.On["pull_request"]; !ok {
		problems = append(problems, "the workflow does not run on pull_request")
	}
	perms, _ := c.wf.Permissions.(map[string]any)
	if len(perms) != 1 || perms["contents"] != "read" {
		problems = append(problems, fmt.Sprintf("permissions: %v, want exactly contents: read", c.wf.Permissions))
	}
	for _, name := range sortedJobs(c.wf) {
		if c.wf.Jobs[name].Permissions != nil {
			problems = append(problems, fmt.Sprintf("job %s sets permissions of its own", name))
		}
	}
	if !strings.Contains(c.wf.Concurrency.Group, "github.ref") {
		problems = append(problems, fmt.Sprintf("concurrency group %q does not name the branch (github.ref)", c.wf.Concurrency.Group))
	}
	if fmt.Sprint(c.wf.Concurrency.CancelInProgress) != "true" {
		problems = append(problems, "concurrency does not cancel superseded runs (cancel-in-progress: true)")
	}
	return problems
}

func sortedJobs(wf ciWorkflow) []string {
	var names []string
	for name := range wf.Jobs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

var ciChecks = []struct {
	name  string
	check func(*ciContext) []string
}{
	{"readme", checkReadme},
	{"ci-run", checkCIRun},
	{"jobs", checkJobs},
	{"test-job", checkTestJob},
	{"test-tools", checkTestTools},
	{"aws-artifacts", checkAWSArtifacts},
	{"pinned", checkPinned},
	{"go-version", checkGoVersion},
	{"timeouts", checkTimeouts},
	{"triggers", checkTriggers},
}

// ciRepoInputs reads the three files from the repository (the test runs in
// tests/).
func ciRepoInputs(t *testing.T) ciInputs {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	read := func(path string) ([]byte, error) { return os.ReadFile(filepath.Join(root, filepath.FromSlash(path))) }
	texts := map[string]string{}
	for _, p := range []string{ciWorkflowFile, ciRunFile, ciReadmeFile} {
		b, err := read(p)
		if err != nil {
			t.Fatal(err)
		}
		texts[p] = string(b)
	}
	return ciInputs{workflow: texts[ciWorkflowFile], ciRun: texts[ciRunFile], readme: texts[ciReadmeFile], repo: read}
}

func runCICheck(t *testing.T, in ciInputs, check func(*ciContext) []string) []string {
	t.Helper()
	c, err := newCIContext(in)
	if err != nil {
		return []string{err.Error()}
	}
	return check(c)
}

// TestCIWorkflow: the workflow, .ci/run and the README agree.
func TestCIWorkflow(t *testing.T) {
	t.Parallel()
	in := ciRepoInputs(t)
	for _, ch := range ciChecks {
		for _, p := range runCICheck(t, in, ch.check) {
			t.Errorf("%s: %s", ch.name, p)
		}
	}
}

// TestCIWorkflowChecksFail: each check reports a copy of the files broken
// the way it guards against. Each edit must find its text, so a reworded
// workflow fails here instead of making a case vacuous.
func TestCIWorkflowChecksFail(t *testing.T) {
	t.Parallel()
	base := ciRepoInputs(t)
	type edit struct {
		file     *string // which text of ciInputs
		old, new string
	}
	cases := []struct {
		name  string
		check string
		edits func(in *ciInputs) []edit
	}{
		{"README block drops make lint", "readme", func(in *ciInputs) []edit {
			return []edit{{&in.readme, "make lint   # gofmt", "make vet   # gofmt"}}
		}},
		{"README has no CI section", "readme", func(in *ciInputs) []edit {
			return []edit{{&in.readme, "\n### CI\n", "\n### Continuous integration\n"}}
		}},
		{"README's CI section does not name .ci/run", "readme", func(in *ciInputs) []edit {
			return []edit{
				{&in.readme, "exactly what `.ci/run` runs", "exactly what the CI script runs"},
				{&in.readme, "call `.ci/run`", "call the CI script"},
				{&in.readme, "the workflow, `.ci/run` and", "the workflow, the CI script and"},
			}
		}},
		{"README layout drops .github's reason", "readme", func(in *ciInputs) []edit {
			return []edit{{&in.readme, "\n.github/", "\ngithub/"}}
		}},
		{".ci/run without set -e", "ci-run", func(in *ciInputs) []edit {
			return []edit{{&in.ciRun, "set -euo pipefail", "set -uo pipefail"}}
		}},
		{".ci/run in the other order", "ci-run", func(in *ciInputs) []edit {
			return []edit{{&in.ciRun, "make lint\nmake test", "make test\nmake lint"}}
		}},
		{".ci/run runs more tests", "ci-run", func(in *ciInputs) []edit {
			return []edit{{&in.ciRun, "make test", "make test\ngo test -race ./..."}}
		}},
		{"a third job", "jobs", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "\n  aws-artifacts:\n", "\n  race:\n    runs-on: ubuntu-24.04\n    timeout-minutes: 5\n    steps:\n      - run: go test -race ./...\n\n  aws-artifacts:\n"}}
		}},
		{"test job in the other order", "test-job", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "- run: make lint\n      - run: make test", "- run: make test\n      - run: make lint"}}
		}},
		{"test job runs more tests", "test-job", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "- run: make test\n", "- run: make test\n      - run: go test -race ./...\n"}}
		}},
		{"test job tolerates a failing lint", "test-job", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "- run: make lint\n", "- run: make lint\n        continue-on-error: true\n"}}
		}},
		{"test job skips make test", "test-job", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "- run: make test\n", "- run: make test\n        if: github.event_name == 'push'\n"}}
		}},
		{"test job changes make test's environment", "test-job", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "    timeout-minutes: 30\n", "    timeout-minutes: 30\n    env:\n      GOFLAGS: -short\n"}}
		}},
		{"test job runs tests through an action", "test-job", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "- run: make lint\n", "- uses: robherley/go-test-action@v0\n      - run: make lint\n"}}
		}},
		{"Python too old", "test-tools", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, `python-version: "3.11"`, `python-version: "3.9"`}}
		}},
		{"pip cache keyed on a file without the pins", "test-tools", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "cache-dependency-path: localstack/ministack.sh", "cache-dependency-path: go.sum"}}
		}},
		{"pip cache keyed on a missing file", "test-tools", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "cache-dependency-path: localstack/ministack.sh", "cache-dependency-path: requirements.txt"}}
		}},
		{"no pip cache", "test-tools", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "cache: pip", "cache: ''"}}
		}},
		{"Terraform wrapped", "test-tools", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "terraform_wrapper: false", "terraform_wrapper: true"}}
		}},
		{"Terraform 1.12", "test-tools", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "terraform_version: 1.11.4", "terraform_version: 1.12.0"}}
		}},
		{"no Node for asl-validator", "test-tools", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "- uses: actions/setup-node@", "- uses: actions/cache@"}}
		}},
		{"aws-artifacts without -check", "aws-artifacts", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "terraform fmt -check -recursive", "terraform fmt -recursive"}}
		}},
		{"aws-artifacts without validate", "aws-artifacts", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "- run: terraform -chdir=infra validate\n", ""}}
		}},
		{"aws-artifacts init with a backend", "aws-artifacts", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "init -backend=false", "init"}}
		}},
		{"aws-artifacts validates before init", "aws-artifacts", func(in *ciInputs) []edit {
			return []edit{
				{&in.workflow, "- run: terraform -chdir=infra validate\n", ""},
				{&in.workflow, "- run: terraform fmt", "- run: terraform -chdir=infra validate\n      - run: terraform fmt"},
			}
		}},
		{"aws-artifacts without the zips", "aws-artifacts", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "- run: make build-aws", "- run: make build"}}
		}},
		{"an action on a branch", "pinned", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "actions/checkout@v", "actions/checkout@main # v"}}
		}},
		{"an action without a version", "pinned", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "- uses: actions/setup-python@v6", "- uses: actions/setup-python"}}
		}},
		{"Go's version written out", "go-version", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "go-version-file: go.mod", `go-version: "1.26"`}}
		}},
		{"Go without its cache", "go-version", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "          cache: true\n", "          cache: false\n"}}
		}},
		{"a job without Go", "go-version", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "- uses: actions/setup-go@", "- uses: actions/cache@"}}
		}},
		{"a job without a timeout", "timeouts", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "    timeout-minutes: 15\n", ""}}
		}},
		{"a six-hour timeout", "timeouts", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "timeout-minutes: 30", "timeout-minutes: 360"}}
		}},
		{"no pull requests", "triggers", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "\n  pull_request:\n", "\n  workflow_dispatch:\n"}}
		}},
		{"not on main", "triggers", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "branches: [main]", "branches: [release]"}}
		}},
		{"write permission", "triggers", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "  contents: read", "  contents: write"}}
		}},
		{"superseded runs kept", "triggers", func(in *ciInputs) []edit {
			return []edit{{&in.workflow, "cancel-in-progress: true", "cancel-in-progress: false"}}
		}},
	}
	checks := map[string]func(*ciContext) []string{}
	for _, ch := range ciChecks {
		checks[ch.name] = ch.check
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.check] = true
		t.Run(tc.name, func(t *testing.T) {
			check := checks[tc.check]
			if check == nil {
				t.Fatalf("no check %q", tc.check)
			}
			in := base
			for _, e := range tc.edits(&in) {
				if !strings.Contains(*e.file, e.old) {
					t.Fatalf("the edit's text %q is not in the file: update this case", e.old)
				}
				*e.file = strings.Replace(*e.file, e.old, e.new, 1)
			}
			problems := runCICheck(t, in, check)
			if len(problems) == 0 {
				t.Errorf("check %s found nothing wrong", tc.check)
			}
			for _, p := range problems {
				t.Logf("%s: %s", tc.check, p)
			}
		})
	}
	for _, ch := range ciChecks {
		if !covered[ch.name] {
			t.Errorf("check %s has no case that makes it fail", ch.name)
		}
	}
}
