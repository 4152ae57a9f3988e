// Command chaos drives the deployed local stack with many concurrent
// orders under faults, then checks the invariants the saga and the events
// promise (check.go) and prints a table (issue 11; `make chaos`).
//
//	go run ./tests/chaos -n 500 -deadline 3m -report .local/chaos.txt
//
// It finds the stack as the end-to-end tests do (SHOP_API_URL or
// .local/api-url, SHOP_PREFIX, AWS_ENDPOINT_URL), and the stack must have
// been deployed with SHOP_FAULTS=1 (the local deployer does). It exits 1
// on any violation, 2 when the run itself could not be made.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/functions/orders"
	"github.com/shop-serverless/shop/functions/provider"
)

type options struct {
	n, products, units, users, workers int
	deadline                           time.Duration
	report, api                        string
	verbose, shared                    bool
	seed                               uint64
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 500, "orders to place")
	flag.IntVar(&o.products, "products", 5, "products the orders share")
	flag.IntVar(&o.units, "units", 50, "units of stock over all products")
	flag.IntVar(&o.users, "users", 0, "users placing the orders (0: one per 5 orders, at least 5)")
	flag.IntVar(&o.workers, "workers", 16, "orders placed at once")
	flag.DurationVar(&o.deadline, "deadline", 3*time.Minute, "how long an order may take to end CONFIRMED or CANCELLED")
	flag.StringVar(&o.report, "report", "", "also write the table to this file")
	flag.StringVar(&o.api, "api", "", "the API's base URL (default $SHOP_API_URL, else .local/api-url)")
	flag.BoolVar(&o.shared, "shared", false, "the stack is shared with other tests running now: only faults keyed to the run's own orders (no fault for every call)")
	flag.BoolVar(&o.verbose, "v", false, "list every order targeted by a fault, and every order's end")
	flag.Uint64Var(&o.seed, "seed", 0, "random seed (0: from the clock; printed)")
	flag.Parse()
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	if o.users == 0 {
		o.users = max(5, o.n/5)
	}
	os.Exit(run(o))
}

func run(o options) int {
	if os.Getenv("AWS_XRAY_CONTEXT_MISSING") == "" {
		// The driver is no traced function: its SDK calls have no span to join.
		_ = os.Setenv("AWS_XRAY_CONTEXT_MISSING", "IGNORE_ERROR")
	}
	ctx := context.Background()
	began := time.Now()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	api, err := apiURL(o.api)
	if err != nil {
		return fail(err)
	}
	s, err := connect(ctx, api)
	if err != nil {
		return fail(err)
	}
	c, err := s.startCapture(ctx)
	if err != nil {
		return fail(err)
	}
	r := &runner{o: o, s: s, c: c, began: began, rnd: rand.New(rand.NewPCG(o.seed, o.seed^0x5eed)), run: fmt.Sprintf("%d", time.Now().UnixNano())}
	fmt.Printf("chaos: %d orders over %d units of %d products, %d users, seed %d, against %s\n", o.n, o.units, o.products, o.users, o.seed, api)
	snap, err := r.drive(ctx)
	r.cleanup()
	c.Close(context.Background())
	if err != nil {
		return fail(err)
	}
	// An event the capture could not read would show only as a missing
	// event; say what it was instead.
	if failures := c.Failures(); len(failures) > 0 {
		return fail(fmt.Errorf("the event capture could not read %d deliveries: %s", len(failures), strings.Join(failures, "; ")))
	}
	violations := Check(snap)
	var out strings.Builder
	WriteReport(&out, snap, violations, time.Since(began))
	if o.verbose {
		for _, p := range r.plans {
			kind := ""
			if p.fault != nil {
				kind = p.fault.Kind + " on " + p.fault.Function
			}
			fmt.Fprintf(&out, "  order %3d %s %-18s dup %d cancel %-5v %s/%s %v retries %d+%d %s\n", p.idx, p.id, p.token, p.dup, p.cancel >= 0,
				p.rec.Status, p.rec.Reason, p.rec.EndedAt.Sub(p.rec.PlacedAt).Round(10*time.Millisecond), p.rec.ClientRetries, p.rec.StepRetries, kind)
		}
	}
	for _, note := range r.notes {
		fmt.Fprintln(&out, "  note:", note)
	}
	fmt.Print(out.String())
	if o.report != "" {
		if err := os.WriteFile(o.report, []byte(out.String()), 0o644); err != nil {
			return fail(err)
		}
	}
	if len(violations) > 0 {
		return 1
	}
	return 0
}

type user struct{ ID, Token string }

// plan is one order the run places.
type plan struct {
	idx       int
	user      user
	key, id   string
	token     string
	lines     []Line
	total     int64
	dup       int           // requests sent at once with the key (1: no duplicate)
	cancel    time.Duration // cancel this long after the 202; <0: never
	fault     *faultPlan
	rec       *Order
	placedErr error
}

type runner struct {
	o     options
	s     *stack
	c     *capture
	rnd   *rand.Rand
	run   string
	began time.Time

	mu       sync.Mutex
	cancels  sync.WaitGroup
	cleanups []func(context.Context) error
	faults   []Fault
	notes    []string

	products []Product
	price    map[string]int64
	users    []user
	plans    []*plan
	poison   []string
	replayed int
}

func (r *runner) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *runner) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, f := range r.cleanups {
		if err := f(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "chaos: cleanup:", err)
		}
	}
}

func (r *runner) drive(ctx context.Context) (Snapshot, error) {
	t := time.Now()
	if err := r.setup(ctx); err != nil {
		return Snapshot{}, err
	}
	fmt.Printf("chaos: setup (products, users) in %v\n", time.Since(t).Round(time.Millisecond))
	r.makePlans()
	if err := r.putPoison(ctx); err != nil {
		return Snapshot{}, err
	}
	stopWatch := r.watchStock(ctx)
	t = time.Now()
	r.placeAll(ctx)
	fmt.Printf("chaos: %d orders placed in %v\n", len(r.plans), time.Since(t).Round(time.Millisecond))
	t = time.Now()
	r.awaitTerminal(ctx)
	fmt.Printf("chaos: terminal after %v more\n", time.Since(t).Round(time.Millisecond))
	r.awaitStockAtRest(ctx)
	stopWatch()
	if err := r.replay(ctx); err != nil {
		return Snapshot{}, err
	}
	t = time.Now()
	snap, err := r.collect(ctx)
	fmt.Printf("chaos: snapshot read in %v\n", time.Since(t).Round(time.Millisecond))
	return snap, err
}

// setup creates the products and registers the users.
func (r *runner) setup(ctx context.Context) error {
	op, err := r.s.operatorToken("inventory:write")
	if err != nil {
		return err
	}
	r.price = map[string]int64{}
	for i := range r.o.products {
		units := int64(r.o.units / r.o.products)
		if i < r.o.units%r.o.products {
			units++
		}
		price := int64(1000 + 250*i)
		body := map[string]any{"sku": fmt.Sprintf("CHAOS-%s-%d", r.run, i), "name": fmt.Sprintf("Chaos widget %d", i),
			"price": map[string]any{"amount": price, "currency": "EUR"}, "stock": units}
		resp, _, err := r.s.callRetrying(ctx, 30*time.Second, "POST", "/v1/products", body, bearer(op)...)
		if err != nil || resp.Status != http.StatusCreated {
			return fmt.Errorf("create product: %d %s %v", resp.Status, resp.Body, err)
		}
		var p struct{ ID string }
		if err := json.Unmarshal(resp.Body, &p); err != nil {
			return err
		}
		r.products = append(r.products, Product{ID: p.ID, Initial: units})
		r.price[p.ID] = price
	}
	users := make([]user, r.o.users)
	errs := make([]error, r.o.users)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4) // registering hashes a password: the CPU, not the emulator, is the limit
	for i := range users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			body := map[string]string{"email": fmt.Sprintf("chaos-%s-%d@example.com", r.run, i), "password": "correct horse 1", "name": fmt.Sprintf("Chaos %d", i)}
			resp, _, err := r.s.callRetrying(ctx, 60*time.Second, "POST", "/v1/users", body)
			if err != nil || resp.Status != http.StatusCreated {
				errs[i] = fmt.Errorf("register: %d %s %v", resp.Status, resp.Body, err)
				return
			}
			var u struct{ ID string }
			if errs[i] = json.Unmarshal(resp.Body, &u); errs[i] != nil {
				return
			}
			tok, err := r.s.userToken(u.ID, 50*time.Minute)
			users[i], errs[i] = user{ID: u.ID, Token: tok}, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.users = users
	return nil
}

// makePlans decides every order: its user, lines, payment token, whether
// it is submitted more than once, cancelled, or the target of a fault.
func (r *runner) makePlans() {
	n := r.o.n
	// The bursts of provider failures come early, right after the keyed
	// faults' orders: later the stock is gone and an order ends
	// OUT_OF_STOCK before it reaches the provider.
	burst := max(2, min(5, n/50))
	first := len(keyedFaults) + 1
	bursts := []struct {
		at    int
		token string
	}{{first, provider.TokenTimeout}, {first + burst + 2, provider.TokenError}, {first + 2*(burst+2), provider.TokenFlaky}}
	for i := range n {
		u := r.users[i%len(r.users)]
		p := &plan{idx: i, user: u, key: fmt.Sprintf("chaos-%s-%d", r.run, i), dup: 1, cancel: -1}
		p.id = orders.OrderID(u.ID, p.key)
		// Lines: one or two products, one or two units each.
		one := r.rnd.IntN(len(r.products))
		p.lines = []Line{{r.products[one].ID, int64(1 + r.rnd.IntN(2))}}
		if r.rnd.IntN(3) == 0 && len(r.products) > 1 {
			second := (one + 1 + r.rnd.IntN(len(r.products)-1)) % len(r.products)
			p.lines = append(p.lines, Line{r.products[second].ID, int64(1 + r.rnd.IntN(2))})
		}
		p.token = provider.TokenVisa
		switch x := r.rnd.IntN(100); {
		case x < 20:
			p.token = provider.TokenDeclined
		case x < 30:
			p.dup = 3
		case x < 40:
			p.cancel = time.Duration(r.rnd.IntN(3000)) * time.Millisecond
		}
		for _, b := range bursts {
			if i >= b.at && i < b.at+burst {
				p.token = b.token
			}
		}
		// Cancels that race the saga: every other order after the bursts,
		// while there is stock, cancelled 0 to 3 s after its 202 (the saga
		// takes about 2 s), so some land before Confirm and some after.
		if afterBursts := first + 3*(burst+2); i >= afterBursts && i < afterBursts+2*max(3, n/25) && (i-afterBursts)%2 == 0 {
			p.token, p.dup, p.cancel = provider.TokenVisa, 1, time.Duration((i-afterBursts)*3000/(4*max(3, n/25)))*time.Millisecond
		}
		// The keyed faults go to the first orders, each one unit of tok_visa,
		// so that the stock is there and the step they aim at runs.
		if i < len(keyedFaults) {
			f := keyedFaults[i]
			p.fault, p.token, p.dup, p.cancel = &f, provider.TokenVisa, 1, -1
			p.lines = []Line{{r.products[i%len(r.products)].ID, 1}}
		}
		for _, l := range p.lines {
			p.total += l.Quantity * r.price[l.ProductID]
		}
		p.rec = &Order{ID: p.id, UserID: u.ID, Key: p.key, Token: p.token, Lines: p.lines, Total: p.total}
		r.plans = append(r.plans, p)
	}
}

// putPoison puts events on the bus that no consumer can take (a negative
// total, below the schema's minimum): they must end in the DLQ, and only
// they. Their ids start with e2e-invalid-, which the end-to-end tests'
// capture leaves out of its catalog check when both run on one stack.
func (r *runner) putPoison(ctx context.Context) error {
	raw, err := catalog.Example("shop.order.created.v1")
	if err != nil {
		return err
	}
	var sources, details []string
	for i := range 3 {
		var e map[string]any
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		id := fmt.Sprintf("e2e-invalid-chaos-%s-%d", r.run, i)
		e["id"], e["time"] = id, time.Now().UTC().Format(time.RFC3339Nano)
		e["data"].(map[string]any)["total"] = map[string]any{"amount": -5, "currency": "EUR"}
		if items, ok := e["data"].(map[string]any)["items"].([]any); ok {
			for j, it := range items {
				it.(map[string]any)["productId"] = fmt.Sprintf("0190c3c4-0000-7000-8000-%012d", j) // no product of the run
			}
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		sources, details = append(sources, e["source"].(string)), append(details, string(b))
		r.poison = append(r.poison, id)
	}
	return r.s.putEvents(ctx, sources, details)
}

// watchStock samples every product's stock until stopped.
func (r *runner) watchStock(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(500 * time.Millisecond):
			}
			for i := range r.products {
				st, err := r.stockOf(ctx, r.products[i].ID)
				if err != nil {
					continue // a sample lost under load is no finding
				}
				r.mu.Lock()
				r.products[i].Samples = append(r.products[i].Samples, st)
				r.mu.Unlock()
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func (r *runner) stockOf(ctx context.Context, id string) (Stock, error) {
	resp, err := r.s.call(ctx, "GET", "/v1/products/"+id, nil)
	if err != nil {
		return Stock{}, err
	}
	if resp.Status != http.StatusOK {
		return Stock{}, fmt.Errorf("product %s: %d", id, resp.Status)
	}
	var st struct{ Available, Reserved, Sold int64 }
	if err := json.Unmarshal(resp.Body, &st); err != nil {
		return Stock{}, err
	}
	return Stock(st), nil
}

// placeAll places every order, o.workers at a time, switching the window
// faults on as it goes.
func (r *runner) placeAll(ctx context.Context) {
	jobs := make(chan *plan)
	var wg sync.WaitGroup
	for range r.o.workers {
		wg.Go(func() {
			for p := range jobs {
				r.place(ctx, p)
			}
		})
	}
	// When (after how many orders) each window fault goes on.
	at := map[int][]faultPlan{}
	windows := windowFaults
	if r.o.shared {
		// A fault for every call would break the other tests' requests,
		// whose clients do not retry as this run's do.
		windows = nil
		r.note("-shared: the faults for every call (%d) left out", len(windowFaults))
	}
	for i, f := range windows {
		when := len(keyedFaults) + i
		if i == 1 {
			when = max(when, len(r.plans)/3) // the orders-create crash: mid-run
		}
		at[when] = append(at[when], f)
	}
	for i, p := range r.plans {
		for _, f := range at[i] {
			r.addFault(r.switchOn(ctx, f, "", ""))
		}
		if i == len(keyedFaults) {
			r.awaitFaultedReserved(ctx)
		}
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	// The cancels started from place: wait for them.
	r.cancels.Wait()
}

// awaitFaultedReserved waits (15 s at most) until the orders the keyed
// faults aim at hold their stock, so that the rush of the other orders
// cannot end them OUT_OF_STOCK before the step their fault is for. The
// orders-create crash's order is left out: its retry waits for the
// crashed request's lock to expire, and it takes its chance with the rest.
func (r *runner) awaitFaultedReserved(ctx context.Context) {
	need := map[string]int64{}
	for _, p := range r.plans[:min(len(keyedFaults), len(r.plans))] {
		if p.fault != nil && !p.fault.byIdem {
			for _, l := range p.lines {
				need[l.ProductID] += l.Quantity
			}
		}
	}
	end := time.Now().Add(15 * time.Second)
	for id, n := range need {
		for time.Now().Before(end) {
			st, err := r.stockOf(ctx, id)
			if err == nil && st.Reserved+st.Sold >= n {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func (r *runner) addFault(f Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, f)
}

// place submits one order (dup times at once with its key), then, if
// planned, cancels it a while later.
func (r *runner) place(ctx context.Context, p *plan) {
	if p.fault != nil {
		r.addFault(r.switchOn(ctx, *p.fault, p.id, p.key))
	}
	body := map[string]any{"paymentMethod": map[string]any{"token": p.token}}
	var lines []map[string]any
	for _, l := range p.lines {
		lines = append(lines, map[string]any{"productId": l.ProductID, "quantity": l.Quantity})
	}
	body["items"] = lines
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range p.dup {
		wg.Go(func() {
			resp, retries, err := r.s.callRetrying(ctx, 60*time.Second, "POST", "/v1/orders", body,
				append(bearer(p.user.Token), "Idempotency-Key", p.key)...)
			mu.Lock()
			defer mu.Unlock()
			p.rec.ClientRetries += retries
			if err == nil && resp.Status == http.StatusAccepted {
				var o struct{ ID string }
				_ = json.Unmarshal(resp.Body, &o)
				p.rec.ResponseIDs = append(p.rec.ResponseIDs, o.ID)
				return
			}
			p.placedErr = fmt.Errorf("POST /v1/orders: %d %.300s %v", resp.Status, resp.Body, err)
		})
	}
	wg.Wait()
	if p.placedErr != nil {
		r.note("order %d (key %s, %s): %v", p.idx, p.key, p.token, p.placedErr)
	}
	if p.cancel < 0 || len(p.rec.ResponseIDs) == 0 {
		return
	}
	r.cancels.Go(func() {
		time.Sleep(p.cancel)
		resp, retries, err := r.s.callRetrying(ctx, 60*time.Second, "POST", "/v1/orders/"+p.id+"/cancel", nil,
			append(bearer(p.user.Token), "Idempotency-Key", p.key+"-cancel")...)
		r.mu.Lock()
		defer r.mu.Unlock()
		p.rec.ClientRetries += retries
		switch {
		case err == nil && resp.Status == http.StatusAccepted:
			p.rec.CancelAccepted = true
		case err == nil && resp.Status == http.StatusConflict:
			// Already CANCELLED (or cancelling): the race lost, fairly.
		default:
			r.notes = append(r.notes, fmt.Sprintf("cancel of %s: %d %.300s %v", p.id, resp.Status, resp.Body, err))
		}
	})
}
