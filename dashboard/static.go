package dashboard

import (
	"net/http"
	"strings"

	"github.com/crmstream/crmstream/dashboard/web"
)

// staticHandler serves the embedded UI; unknown paths get index.html (the
// UI routes with the URL hash, so this only catches typos).
func staticHandler() http.Handler {
	files := http.FileServerFS(web.FS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeText(w, http.StatusMethodNotAllowed, "method not allowed\n")
			return
		}
		if strings.HasSuffix(r.URL.Path, ".js") || strings.HasSuffix(r.URL.Path, ".css") {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}
