package models_test

import (
	"math/rand/v2"
	"testing"

	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/internal/benchcpu"
	"github.com/crmstream/crmstream/models"
)

func benchSetup(b *testing.B) (*models.Model, *features.Vector) {
	set := leadSet(b)
	m, err := models.New(models.LeadConfig(set))
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	v := &features.Vector{}
	for i := range 2000 {
		p := synthLead(r, set, i, v)
		m.Learn(models.Label{Vector: v, Positive: r.Float64() < p})
	}
	synthLead(r, set, 0, v)
	return m, v
}

// BenchmarkScore: probability, tier and reasons for one vector.
func BenchmarkScore(b *testing.B) {
	m, v := benchSetup(b)
	var s models.Score
	b.ReportAllocs()
	cpu := benchcpu.Now()
	for b.Loop() {
		m.ScoreInto(v, &s)
	}
	benchcpu.Report(b, cpu, "")
}

// BenchmarkLearn: progressive evaluation + FTRL update for one label.
func BenchmarkLearn(b *testing.B) {
	m, v := benchSetup(b)
	b.ReportAllocs()
	cpu := benchcpu.Now()
	y := false
	for b.Loop() {
		m.Learn(models.Label{Vector: v, Positive: y})
		y = !y
	}
	benchcpu.Report(b, cpu, "")
}

// BenchmarkScoreLearn: score then update, the "score + update" figure.
func BenchmarkScoreLearn(b *testing.B) {
	m, v := benchSetup(b)
	var s models.Score
	b.ReportAllocs()
	cpu := benchcpu.Now()
	y := false
	for b.Loop() {
		m.ScoreInto(v, &s)
		m.Learn(models.Label{Vector: v, Positive: y, Scored: s.Probability})
		y = !y
	}
	benchcpu.Report(b, cpu, "")
}

// BenchmarkReasonsJSON: the reasons column of one score.
func BenchmarkReasonsJSON(b *testing.B) {
	m, v := benchSetup(b)
	var s models.Score
	m.ScoreInto(v, &s)
	buf := s.AppendReasonsJSON(nil)
	b.ReportAllocs()
	cpu := benchcpu.Now()
	for b.Loop() {
		buf = s.AppendReasonsJSON(buf[:0])
	}
	benchcpu.Report(b, cpu, "")
}
