package npmtest

import "testing"

func TestDirName(t *testing.T) {
	for _, tt := range []struct {
		packages []string
		want     string
	}{
		{[]string{"typescript@7.0.2"}, "typescript@7.0.2"},
		{[]string{"@redocly/cli@2.77.0", "@stoplight/spectral-cli@6.16.3"}, "redocly-cli@2.77.0+stoplight-spectral-cli@6.16.3"},
	} {
		if got := dirName(tt.packages); got != tt.want {
			t.Errorf("dirName(%q) = %q; want %q", tt.packages, got, tt.want)
		}
	}
}
