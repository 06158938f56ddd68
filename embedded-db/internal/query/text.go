// $text: MongoDB's text search, for a collection's one text index, with
// the language "none" (no stemming, no stop words). A search string is
// terms (a document matches when it holds any of them in a text-indexed
// field) and negated terms ("-word": it matches none of them); phrases are
// refused rather than half done. Words are compared folded — full case
// folding and diacritics removed, so "É" = "e" and "ß" = "ss" — as MongoDB's
// version 3 text indexes do. The score is MongoDB's: per field, each
// term's frequency (each repeat worth half the one before), scaled by the
// term's share of the field and the field's weight, summed over the terms
// searched (textScore).
package query

import (
	"strings"
	"unicode"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

var folder = cases.Fold()

// Fold is the form words are compared in: NFKD, full case folding, marks
// (categories Mn, Mc, Me) dropped, NFKC again — as Roost's own text_words
// (utf8proc) folds the words it stores.
func Fold(s string) string {
	d := folder.String(norm.NFKD.String(s))
	d = strings.Map(func(r rune) rune {
		if unicode.In(r, unicode.Mn, unicode.Mc, unicode.Me) {
			return -1
		}
		return r
	}, d)
	return norm.NFKC.String(d)
}

// wordRune: what words are made of — letters, digits, and private-use
// characters (which SQLite's unicode61 tokenizer keeps in words too).
func wordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r)
}

// Words splits text into its folded words, in order, repeats kept.
func Words(s string) []string {
	return strings.FieldsFunc(Fold(s), func(r rune) bool { return !wordRune(r) })
}

// TextField is a text index's field and weight.
type TextField struct {
	Path   string
	Parts  []string
	Weight float64
}

// TextNode is a $text condition; Fields is empty until Bind gives it the
// collection's text index.
type TextNode struct {
	Terms   []string // folded, distinct
	Negated []string
	Fields  []TextField
}

// compileText parses {$search, $language, $caseSensitive, $diacriticSensitive}.
func compileText(v bsoncore.Value) (*TextNode, error) {
	d, ok := v.DocumentOK()
	if !ok {
		return nil, BadValue("$text expects an object")
	}
	elems, _ := d.Elements()
	n := &TextNode{}
	search := ""
	found := false
	for _, e := range elems {
		switch e.Key() {
		case "$search":
			s, isStr := e.Value().StringValueOK()
			if !isStr {
				return nil, BadValue("$search must be a string")
			}
			search, found = s, true
		case "$language":
			if lang, _ := e.Value().StringValueOK(); lang != "none" {
				return nil, NotSupported("$text $language other than \"none\"")
			}
		case "$caseSensitive", "$diacriticSensitive":
			if Truthy(e.Value()) {
				return nil, NotSupported("$text " + e.Key())
			}
		default:
			return nil, BadValue("unknown operator in $text: %s", e.Key())
		}
	}
	if !found {
		return nil, Errorf(9, "FailedToParse", "Missing expected field \"$search\"")
	}
	if strings.Contains(search, "\"") {
		return nil, NotSupported("phrases in $text $search")
	}
	seen := map[bool]map[string]bool{false: {}, true: {}}
	for _, field := range strings.Fields(search) {
		negated := strings.HasPrefix(field, "-")
		for _, w := range Words(field) {
			if seen[negated][w] {
				continue
			}
			seen[negated][w] = true
			if negated {
				n.Negated = append(n.Negated, w)
			} else {
				n.Terms = append(n.Terms, w)
			}
		}
	}
	return n, nil
}

// FieldStrings: the strings a text-indexed path holds (an array's strings
// each, other types ignored, as MongoDB's text indexes do).
func FieldStrings(doc bsoncore.Document, parts []string) []string {
	var out []string
	for _, v := range Lookup(doc, parts) {
		vals := []bsoncore.Value{v}
		if v.Type == bsoncore.TypeArray {
			vals, _ = bsoncore.Array(v.Data).Values()
		}
		for _, e := range vals {
			if s, ok := e.StringValueOK(); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// termScores: each word's score in doc, over every indexed string.
func termScores(doc bsoncore.Document, fields []TextField) map[string]float64 {
	scores := map[string]float64{}
	for _, f := range fields {
		for _, raw := range FieldStrings(doc, f.Parts) {
			words := Words(raw)
			type seen struct{ exp, count, freq float64 }
			terms := map[string]*seen{}
			for _, w := range words {
				t := terms[w]
				if t == nil {
					t = &seen{exp: 1}
					terms[w] = t
				} else {
					t.exp *= 2
				}
				t.count++
				t.freq += 1 / t.exp
			}
			whole := Fold(raw)
			for w, t := range terms {
				coeff := 0.5*t.count/float64(len(words)) + 0.5
				adjust := 1.0
				if whole == w { // the field is that one word
					adjust += 0.1
				}
				scores[w] += f.Weight * t.freq * coeff * adjust
			}
		}
	}
	return scores
}

func (n *TextNode) Match(doc bsoncore.Document) bool {
	if len(n.Fields) == 0 || len(n.Terms) == 0 {
		return false
	}
	scores := termScores(doc, n.Fields)
	for _, w := range n.Negated {
		if scores[w] > 0 {
			return false
		}
	}
	for _, w := range n.Terms {
		if scores[w] > 0 {
			return true
		}
	}
	return false
}

// Score is doc's textScore: the sum of its searched terms' scores.
func (n *TextNode) Score(doc bsoncore.Document) float64 {
	scores := termScores(doc, n.Fields)
	total := 0.0
	for _, w := range n.Terms {
		total += scores[w]
	}
	return total
}

// FindText is the $text condition of a filter: at its top, or in a
// top-level $and (the only places this server takes one; MongoDB's
// further $or forms are refused by CompileFilter's callers).
func FindText(n Node) *TextNode {
	switch n := n.(type) {
	case *TextNode:
		return n
	case AndNode:
		for _, c := range n {
			if t := FindText(c); t != nil {
				return t
			}
		}
	}
	return nil
}

// checkTextPlacement refuses a $text anywhere but at the top of a filter
// or in its top-level $ands, and more than one.
func checkTextPlacement(n Node, top bool, count *int) error {
	switch n := n.(type) {
	case *TextNode:
		if !top {
			return BadValue("$text is only allowed at the top of a filter or in a top-level $and here")
		}
		*count++
		if *count > 1 {
			return BadValue("Too many text expressions")
		}
	case AndNode:
		for _, c := range n {
			if err := checkTextPlacement(c, top, count); err != nil {
				return err
			}
		}
	case OrNode:
		for _, c := range n {
			if err := checkTextPlacement(c, false, count); err != nil {
				return err
			}
		}
	case NorNode:
		for _, c := range n {
			if err := checkTextPlacement(c, false, count); err != nil {
				return err
			}
		}
	case *FieldNode:
		if n.Sub != nil {
			return checkTextPlacement(n.Sub, false, count)
		}
	}
	return nil
}
