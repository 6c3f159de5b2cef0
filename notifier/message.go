package notifier

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/crmstream/crmstream/alerts"
)

// Message is a Slack-compatible webhook body: text for notifications and
// clients without blocks, blocks for the rich rendering.
type Message struct {
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks,omitempty"`
}

// Block is a Slack Block Kit block (the subset used here).
type Block struct {
	Type   string `json:"type"`
	Text   *Text  `json:"text,omitempty"`
	Fields []Text `json:"fields,omitempty"`
	Elems  []Text `json:"elements,omitempty"`
}

// Text is a Block Kit text object.
type Text struct {
	Type string `json:"type"` // "mrkdwn" or "plain_text"
	Text string `json:"text"`
}

var titles = map[alerts.Kind]string{
	alerts.Abandonment: "Abandoned flow",
	alerts.Inactivity:  "Gone quiet",
	alerts.HotLead:     "Hot lead",
	alerts.ChurnRisk:   "Churn risk",
	alerts.ModelDrift:  "Model drift",
}

// Render builds the webhook message for one alert state. A retraction is a
// follow-up that names the alert it takes back.
func Render(a *alerts.Alert) Message {
	title := titles[a.Kind]
	if title == "" {
		title = string(a.Kind)
	}
	who := a.LeadID
	if who == "" {
		who = a.AccountID
	}
	if who == "" {
		who = a.Details.Model
	}
	head := fmt.Sprintf("%s: %s", title, who)
	switch a.Status {
	case alerts.Retracted:
		head = "Retracted — " + head
	case alerts.Acknowledged:
		head = "Acknowledged — " + head
	}
	text := escape(head + ". " + a.Reason)
	var fields []Text
	add := func(k, v string) {
		if v != "" {
			fields = append(fields, Text{Type: "mrkdwn", Text: "*" + k + "*\n" + escape(v)})
		}
	}
	add("Lead", a.LeadID)
	add("Account", a.AccountID)
	add("Flow", a.Details.Flow)
	add("Last step", a.Details.Step)
	if a.Details.CartValue > 0 {
		add("Cart", strings.TrimSpace(strconv.FormatFloat(a.Details.CartValue, 'f', 2, 64)+" "+a.Details.Currency))
	}
	if a.Kind == alerts.HotLead || a.Kind == alerts.ChurnRisk {
		add("Score", strconv.FormatFloat(a.Score, 'f', -1, 64))
	}
	add("When", a.EventTime.UTC().Format("2006-01-02 15:04 UTC"))
	if len(fields) > 10 { // Slack's limit per section
		fields = fields[:10]
	}
	blocks := []Block{
		{Type: "header", Text: &Text{Type: "plain_text", Text: truncate(head, 150)}},
		{Type: "section", Text: &Text{Type: "mrkdwn", Text: truncate(escape(a.Reason), 3000)}},
	}
	if len(fields) > 0 {
		blocks = append(blocks, Block{Type: "section", Fields: fields})
	}
	blocks = append(blocks, Block{Type: "context", Elems: []Text{{Type: "mrkdwn", Text: "alert " + escape(a.ID) + " · " + string(a.Status)}}})
	return Message{Text: truncate(text, 3000), Blocks: blocks}
}

// JSON encodes the message.
func (m Message) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // Slack has its own escaping (escape); keep the body readable
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode message: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// escape neutralizes Slack's control characters in untrusted text, so an
// event property cannot ping @channel or forge a link.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 { // do not cut a UTF-8 sequence
		n--
	}
	return s[:n] + "…"
}
