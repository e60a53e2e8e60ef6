package fanout

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	c, err := Parse([]string{"-run", "steady", "-targets", "http://a:1/, http://b:2", "-pids", "10,11", "-watched", "0.1"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []string{"http://a:1", "http://b:2"}, c.Targets)
	assert.Equal(t, []int{10, 11}, c.Pids)
	assert.InDelta(t, 0.1, c.Watched, 1e-9)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-run", "steady"}, "-pids: 0 for 1 targets"},
		{[]string{"-run", "steady", "-pids", "1", "-watched", "2"}, "-watched"},
		{[]string{"-run", "steady", "-pids", "x"}, `"x" is no process id`},
		{[]string{"-run", "disrupt"}, "needs -disrupt"},
		{[]string{"-run", "burst"}, `-run "burst"`},
		{[]string{"-run", "churn", "-targets", " , "}, "-targets: none"},
		{[]string{"-run", "churn", "-rate", "0"}, "-rate"},
		{[]string{"-run", "churn", "-sources", "300"}, "-sources"},
	} {
		_, err := Parse(tc.args, io.Discard)
		require.Error(t, err, "%v", tc.args)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.args)
	}
}
