package deploy

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// The little of Markdown the documentation tests read: fenced code blocks
// with the HTML comments just above them, the links outside code, and the
// anchors GitHub gives headings.

// fence is one fenced code block: its info string (sh, js, …), its text,
// the HTML comments on the lines right above its opening fence, and the
// line that fence is on (1-based).
type fence struct {
	lang     string
	text     string
	comments []string
	line     int
}

var commentLine = regexp.MustCompile(`^<!--\s*(.*?)\s*-->$`)

// fences returns the fenced code blocks of a Markdown text, in order.
func fences(md string) []fence {
	var out []fence
	var cur *fence
	var comments []string
	for i, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur != nil {
			if trimmed == "```" {
				out = append(out, *cur)
				cur = nil
			} else {
				cur.text += line + "\n"
			}
			continue
		}
		if lang, ok := strings.CutPrefix(trimmed, "```"); ok {
			cur = &fence{lang: lang, comments: comments, line: i + 1}
			comments = nil
			continue
		}
		if m := commentLine.FindStringSubmatch(trimmed); m != nil {
			comments = append(comments, m[1])
			continue
		}
		comments = nil
	}
	return out
}

// outsideFences is the text with fenced code blocks blanked, line for line.
func outsideFences(md string) []string {
	lines := strings.Split(md, "\n")
	inFence := false
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			lines[i] = ""
		} else if inFence {
			lines[i] = ""
		}
	}
	return lines
}

var (
	codeSpan = regexp.MustCompile("`[^`]*`")
	// mdLink is an inline link or image, [text](target) or ![alt](target);
	// a target may carry a title after a space.
	mdLink  = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	heading = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*#*$`)
)

// link is one link of a Markdown file: its target and its line (1-based).
type link struct {
	target string
	line   int
}

// links returns the inline links outside code.
func links(md string) []link {
	var out []link
	for i, line := range outsideFences(md) {
		// What looks like a link inside a code span is not one.
		line = codeSpan.ReplaceAllString(line, "``")
		for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
			out = append(out, link{target: m[1], line: i + 1})
		}
	}
	return out
}

// anchors returns the anchors GitHub makes of a Markdown text's headings:
// lower case, punctuation dropped, spaces as hyphens, and -1, -2, … on
// repeats.
func anchors(md string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, line := range outsideFences(md) {
		m := heading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		slug := slugOf(m[1])
		if n := seen[slug]; n > 0 {
			out[slug+"-"+strconv.Itoa(n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

// slugOf is GitHub's anchor of one heading's text.
func slugOf(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.IsLetter(r) || unicode.IsNumber(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}
