package redisconn

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParse: what each form of REDIS_URL names, before any node is asked,
// and the settings refused at once.
func TestParse(t *testing.T) {
	ca := &tls.Config{RootCAs: x509.NewCertPool()}
	tests := []struct {
		url  string
		tc   *tls.Config
		want string // "embedded", "node", "cluster", "sentinel"
		err  string // what the error says; "" for none
	}{
		{"", nil, "embedded", ""},
		{"", ca, "embedded", ""},
		{"redis://h:6379/2", nil, "node", ""},
		{"redis://u:p@h:6379", nil, "node", ""},
		{"rediss://h:6380/0", ca, "node", ""},
		{"redis://h:7000/0?addr=h:7001&addr=h:7002", nil, "cluster", ""},
		{"redis://h:7000?addr=h:7001", nil, "cluster", ""},
		{"rediss://h:7000/0?addr=h:7001", ca, "cluster", ""},
		{"redis://h:7000/3?addr=h:7001", nil, "", "database 0 only"},
		{"redis://s:26379/0?master_name=jobs&addr=s2:26379", nil, "sentinel", ""},
		{"rediss://s:26379/0?master_name=jobs", ca, "sentinel", ""},
		{"redis://s:26379/0?master_name=", nil, "", "master_name= is empty"},
		{"rediss://h:6380/0?skip_verify=true", nil, "", "skip_verify"},
		{"rediss://h:7000/0?addr=h:7001&skip_verify=true", nil, "", "skip_verify"},
		{"rediss://s:26379/0?master_name=jobs&skip_verify=true", nil, "", "skip_verify"},
		{"redis://h:6379/0", ca, "", "use rediss://"},
		{"redis://h:7000/0?addr=h:7001", ca, "", "use rediss://"},
		{"redis://s:26379/0?master_name=jobs", ca, "", "use rediss://"},
		{"http://h:6379", nil, "", "REDIS_URL"},
		{"redis://h:6379/x", nil, "", "REDIS_URL"},
	}
	for _, tt := range tests {
		p, err := parse(tt.url, tt.tc)
		if tt.err != "" {
			assert.ErrorContains(t, err, tt.err, "parse(%q)", tt.url)
			continue
		}
		require.NoError(t, err, "parse(%q)", tt.url)
		assert.Equal(t, tt.want, p.kind(), "parse(%q)", tt.url)
	}
}

// kind names which of p's fields is set.
func (p plan) kind() string {
	switch {
	case p.embedded:
		return "embedded"
	case p.node != nil:
		return "node"
	case p.cluster != nil:
		return "cluster"
	case p.sentinel != nil:
		return "sentinel"
	}
	return ""
}

// TestParseTunes: every client jobwait makes has timeouts that keep a slow
// Redis from holding a request past its budget, a pool for many first
// reads, sends nothing but HELLO and SELECT on a connection, dials
// through jobwait's dialer, and verifies TLS with the CA it was given,
// against the URL's host.
func TestParseTunes(t *testing.T) {
	ca := &tls.Config{RootCAs: x509.NewCertPool()}
	p, err := parse("rediss://u:p@redis.internal:6380/4", ca)
	require.NoError(t, err)
	o := p.node
	assert.Equal(t, 4, o.DB)
	assert.Equal(t, 2*time.Second, o.DialTimeout)
	assert.Equal(t, 2*time.Second, o.ReadTimeout)
	assert.True(t, o.ContextTimeoutEnabled)
	assert.Equal(t, 64, o.PoolSize)
	assert.True(t, o.DisableIdentity)
	assert.NotNil(t, o.Dialer)
	require.NotNil(t, o.TLSConfig)
	assert.Same(t, ca.RootCAs, o.TLSConfig.RootCAs)
	assert.Equal(t, "redis.internal", o.TLSConfig.ServerName)

	p, err = parse("redis://h:7000/0?addr=h:7001&pool_size=8&read_timeout=5s", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"h:7000", "h:7001"}, p.cluster.Addrs)
	assert.Equal(t, 64, p.cluster.PoolSize, "a pool per node, at least 64")
	assert.Equal(t, 5*time.Second, p.cluster.ReadTimeout, "the URL's own timeout kept")
	assert.True(t, p.cluster.DisableIdentity)

	p, err = parse("redis://sentinel-user:spass@s:26379/1?master_name=jobs&addr=s2:26379&username=jobwait&password=dpass", nil)
	require.NoError(t, err)
	so := p.sentinel
	assert.Equal(t, "jobs", so.MasterName)
	assert.Equal(t, []string{"s:26379", "s2:26379"}, so.SentinelAddrs)
	assert.Equal(t, "sentinel-user", so.SentinelUsername, "the URL's user is the sentinels'")
	assert.Equal(t, "jobwait", so.Username, "?username= is the data nodes'")
	assert.Equal(t, 1, so.DB)
	assert.True(t, so.DisableIdentity)
}

func TestHelloField(t *testing.T) {
	tests := []struct {
		hello any
		want  string
		ok    bool
	}{
		{map[any]any{"server": "redis", "mode": "cluster"}, "cluster", true},
		{map[any]any{"mode": "standalone"}, "standalone", true},
		{[]any{"server", "redis", "mode", "sentinel"}, "sentinel", true},
		{[]any{"server", "redis", "mode"}, "", false},
		{map[any]any{"mode": int64(1)}, "", false},
		{"OK", "", false},
	}
	for _, tt := range tests {
		got, ok := helloField(tt.hello, "mode")
		if got != tt.want || ok != tt.ok {
			t.Errorf("helloField(%v) = %q, %v; want %q, %v", tt.hello, got, ok, tt.want, tt.ok)
		}
	}
}
