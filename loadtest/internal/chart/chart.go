// Package chart draws the benchmark's one picture: p99 latency against
// delivery rate, one line per server, with the latency limit marked.
package chart

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Point is one measured step.
type Point struct {
	DeliveriesPerSec float64
	P99MS            float64
}

// Series is one server's steps.
type Series struct {
	Name   string
	Points []Point
}

var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
}

// P99VsRate writes a PNG of p99 (log scale) against deliveries per second.
func P99VsRate(path, title string, limitMS float64, series []Series) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "deliveries per second (thousands)"
	p.Y.Label.Text = "p99 latency (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = latencyTicks{}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.YOffs = -vg.Points(6)
	p.Add(plotter.NewGrid())

	maxX := 0.0
	minY, maxY := math.Inf(1), limitMS
	for i, s := range series {
		pts := slices.Clone(s.Points)
		slices.SortFunc(pts, func(a, b Point) int {
			switch {
			case a.DeliveriesPerSec < b.DeliveriesPerSec:
				return -1
			case a.DeliveriesPerSec > b.DeliveriesPerSec:
				return 1
			}
			return 0
		})
		xy := make(plotter.XYs, 0, len(pts))
		for _, pt := range pts {
			y := math.Max(pt.P99MS, 0.01) // log scale needs > 0
			xy = append(xy, plotter.XY{X: pt.DeliveriesPerSec / 1000, Y: y})
			maxX = math.Max(maxX, pt.DeliveriesPerSec/1000)
			minY, maxY = math.Min(minY, y), math.Max(maxY, y)
		}
		if len(xy) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xy)
		if err != nil {
			return fmt.Errorf("series %s: %w", s.Name, err)
		}
		c := palette[i%len(palette)]
		line.Color = c
		line.Width = vg.Points(1.5)
		points.Color = c
		points.Shape = draw.CircleGlyph{}
		points.Radius = vg.Points(2.5)
		p.Add(line, points)
		p.Legend.Add(s.Name, line, points)
	}
	if maxX == 0 {
		return fmt.Errorf("no points to draw")
	}
	limit := plotter.NewFunction(func(float64) float64 { return limitMS })
	limit.Color = color.Gray{Y: 0x60}
	limit.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(limit)
	p.Legend.Add(fmt.Sprintf("p99 limit %.0f ms", limitMS), limit)
	p.X.Min, p.X.Max = 0, maxX*1.05
	p.Y.Min, p.Y.Max = math.Max(minY/2, 0.01), maxY*2
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// latencyTicks labels 1-2-5 steps, which a log axis of milliseconds reads
// best with.
type latencyTicks struct{}

func (latencyTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for dec := math.Pow(10, math.Floor(math.Log10(lo))); dec <= hi; dec *= 10 {
		for _, m := range []float64{1, 2, 5} {
			v := m * dec
			if v < lo || v > hi {
				continue
			}
			out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
	}
	return out
}
