// Command gensample writes testdata/sample: a synthetic corpus of clinic
// notes, bank support chats and retail order e-mails full of made-up
// personal data (names, Aadhaar numbers that pass Verhoeff, PAN, UPI, IFSC,
// phones, e-mails, Luhn-valid cards, addresses with PIN codes), plus a few
// duplicates and malformed records. Deterministic: the same seed writes the
// same bytes. None of the people or numbers are real.
//
//	go run ./internal/dataset/gensample -out testdata/sample
package main

import (
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

var (
	given   = []string{"Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Sneha", "Arjun", "Kavya", "Rahul", "Meera", "Sanjay", "Lakshmi", "Imran", "Fatima", "Joseph", "Deepa", "Karthik", "Nisha", "Suresh", "Pooja", "Manoj", "Divya", "Harpreet", "Gurpreet", "Anil", "Sunita", "Ramesh", "Asha", "Farhan", "Zoya"}
	surname = []string{"Sharma", "Iyer", "Reddy", "Patel", "Nair", "Gupta", "Singh", "Menon", "Das", "Kulkarni", "Banerjee", "Khan", "Fernandes", "Rao", "Joshi", "Chatterjee", "Pillai", "Mehta", "Verma", "Bhat"}
	streets = []string{"MG Road", "Residency Road", "Park Street", "Linking Road", "Anna Salai", "FC Road", "Sector 21", "5th Cross, Indiranagar", "2nd Main, Jayanagar", "Civil Lines"}
	cities  = []struct{ city, pin string }{{"Bengaluru", "5600"}, {"Mumbai", "4000"}, {"Chennai", "6000"}, {"Kolkata", "7000"}, {"Pune", "4110"}, {"Delhi", "1100"}, {"Hyderabad", "5000"}}
	banks   = []string{"HDFC", "ICIC", "SBIN", "UTIB", "KKBK", "PUNB"}
	psps    = []string{"okaxis", "okhdfcbank", "oksbi", "ybl", "paytm", "ibl"}
	drugs   = []string{"metformin 500 mg twice daily", "amlodipine 5 mg once daily", "paracetamol 650 mg as needed", "atorvastatin 10 mg at night", "pantoprazole 40 mg before breakfast"}
	issues  = []string{"fever and cough for three days", "follow-up for type 2 diabetes", "chest pain on exertion", "persistent headache", "knee pain after a fall", "high blood pressure readings at home"}
	items   = []string{"wireless earbuds", "pressure cooker", "cotton kurta", "running shoes", "mixer grinder", "school bag", "LED desk lamp"}
)

type gen struct{ r *rand.Rand }

func (g gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }
func (g gen) digits(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte(byte('0' + g.r.IntN(10)))
	}
	return b.String()
}
func (g gen) name() string { return g.pick(given) + " " + g.pick(surname) }
func (g gen) phone() string {
	n := string(byte('6'+g.r.IntN(4))) + g.digits(9)
	switch g.r.IntN(3) {
	case 0:
		return "+91 " + n[:5] + " " + n[5:]
	case 1:
		return "0" + n
	}
	return n
}
func (g gen) email(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, " ", ".")) + fmt.Sprintf("%d@%s", g.r.IntN(100), g.pick([]string{"gmail.com", "yahoo.co.in", "outlook.com", "rediffmail.com"}))
}
func (g gen) address() string {
	c := cities[g.r.IntN(len(cities))]
	return fmt.Sprintf("%d, %s, %s %s%s", 1+g.r.IntN(400), g.pick(streets), c.city, c.pin, g.digits(2))
}
func (g gen) aadhaar() string {
	d := string(byte('2'+g.r.IntN(8))) + g.digits(10)
	d += string(byte('0' + verhoeffCheck(d)))
	return d[:4] + " " + d[4:8] + " " + d[8:]
}
func (g gen) pan(surname string) string {
	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b strings.Builder
	for i := 0; i < 3; i++ {
		b.WriteByte(letters[g.r.IntN(26)])
	}
	b.WriteByte('P')
	b.WriteByte(surname[0])
	b.WriteString(g.digits(4))
	b.WriteByte(letters[g.r.IntN(26)])
	return b.String()
}
func (g gen) ifsc() string { return g.pick(banks) + "0" + g.digits(6) }
func (g gen) card() string {
	d := string(byte('4'+g.r.IntN(2))) + g.digits(14)
	d += string(byte('0' + luhnCheck(d)))
	return d[:4] + " " + d[4:8] + " " + d[8:12] + " " + d[12:]
}
func (g gen) dob() string {
	return fmt.Sprintf("%02d/%02d/%d", 1+g.r.IntN(28), 1+g.r.IntN(12), 1950+g.r.IntN(55))
}

// verhoeffCheck returns the Verhoeff check digit of the decimal string s.
func verhoeffCheck(s string) int {
	d := [10][10]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5}, {2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7}, {4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1}, {6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3}, {8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}}
	p := [8][10]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4}, {5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7}, {9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1}, {2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8}}
	inv := [10]int{0, 4, 3, 2, 1, 5, 6, 7, 8, 9}
	c := 0
	for i := 0; i < len(s); i++ {
		c = d[c][p[(i+1)%8][int(s[len(s)-1-i]-'0')]]
	}
	return inv[c]
}

// luhnCheck returns the Luhn check digit of the decimal string s.
func luhnCheck(s string) int {
	sum := 0
	for i := 0; i < len(s); i++ {
		n := int(s[len(s)-1-i] - '0')
		if i%2 == 0 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return (10 - sum%10) % 10
}

func (g gen) clinicNote(i int) map[string]any {
	name := g.name()
	text := fmt.Sprintf("Patient: %s\nDOB: %s\nAadhaar: %s\nPhone: %s\nAddress: %s\n\nChief complaint: %s. "+
		"On examination vitals were stable, BP %d/%d, pulse %d. Advised %s and review after %d weeks. "+
		"Patient counselled about diet and exercise; next of kin %s informed.\nDr. %s",
		name, g.dob(), g.aadhaar(), g.phone(), g.address(), g.pick(issues), 110+g.r.IntN(40), 70+g.r.IntN(20), 60+g.r.IntN(40),
		g.pick(drugs), 1+g.r.IntN(6), g.name(), g.pick(surname))
	return map[string]any{"id": fmt.Sprintf("note-%04d", i), "patient_id": fmt.Sprintf("P%05d", g.r.IntN(120)), "text": text}
}

func (g gen) bankChat(i int) map[string]any {
	name := g.name()
	sn := strings.Fields(name)[1]
	acct := g.digits(12)
	msgs := []map[string]string{
		{"role": "user", "content": fmt.Sprintf("Hi, this is %s. My card %s was charged twice for Rs. %d.", name, g.card(), 200+g.r.IntN(9000))},
		{"role": "assistant", "content": fmt.Sprintf("Sorry to hear that, %s. Could you confirm your PAN and registered mobile number?", strings.Fields(name)[0])},
		{"role": "user", "content": fmt.Sprintf("PAN is %s and mobile %s. Please refund to UPI %s@%s.", g.pan(sn), g.phone(), strings.ToLower(strings.Fields(name)[0]), g.pick(psps))},
		{"role": "assistant", "content": fmt.Sprintf("Thank you. The duplicate charge will be reversed to account %s (IFSC %s) within 5 working days.", acct, g.ifsc())},
	}
	var lines []string
	for _, m := range msgs {
		lines = append(lines, m["role"]+": "+m["content"])
	}
	return map[string]any{"id": fmt.Sprintf("chat-%04d", i), "customer_id": fmt.Sprintf("C%04d", g.r.IntN(80)),
		"messages": msgs, "text": strings.Join(lines, "\n")}
}

func (g gen) orderEmail(i int) []string {
	name := g.name()
	text := fmt.Sprintf("Dear %s,\n\nThank you for shopping with us. Your order OD%s for %s (Rs. %d) has been shipped to %s "+
		"and will arrive in %d days. For changes write to support or call us; we will reach you at %s or %s.\n\nRegards,\nCustomer Care",
		name, g.digits(10), g.pick(items), 300+g.r.IntN(5000), g.address(), 2+g.r.IntN(5), g.phone(), g.email(name))
	return []string{fmt.Sprintf("order-%04d", i), fmt.Sprintf("C%04d", g.r.IntN(80)), text}
}

func main() {
	out := flag.String("out", "testdata/sample", "output directory")
	seed := flag.Uint64("seed", 2026, "random seed")
	flag.Parse()
	g := gen{rand.New(rand.NewPCG(*seed, 1))}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	writeJSONL := func(name string, recs []map[string]any, extra ...string) {
		f, err := os.Create(filepath.Join(*out, name))
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		for i, r := range recs {
			b, _ := json.Marshal(r)
			f.Write(append(b, '\n'))
			if i < len(extra) {
				f.WriteString(extra[i] + "\n")
			}
		}
	}
	var notes []map[string]any
	for i := 0; i < 160; i++ {
		notes = append(notes, g.clinicNote(i))
	}
	notes = append(notes, notes[3], notes[10]) // exact duplicates
	// Two blank lines (ignored) and one truncated JSON line (a bad record).
	writeJSONL("clinic_notes.jsonl", notes, "", "", `{"id":"note-broken","text":"truncated`)
	var chats []map[string]any
	for i := 0; i < 120; i++ {
		chats = append(chats, g.bankChat(i))
	}
	writeJSONL("support_chats.jsonl", chats)
	f, err := os.Create(filepath.Join(*out, "orders.csv"))
	if err != nil {
		log.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.Write([]string{"id", "customer_id", "text"})
	for i := 0; i < 120; i++ {
		w.Write(g.orderEmail(i))
	}
	w.Flush()
	f.WriteString("order-bad,C0001,\"unbalanced quote\n")
	f.Close()
	// A plain-text document (one record by default; one per paragraph with
	// --paragraphs), generated last so the files above keep their bytes.
	if err := os.WriteFile(filepath.Join(*out, "referral_letters.txt"), []byte(g.referralLetters(letters)), 0o644); err != nil {
		log.Fatal(err)
	}
}

// letters is the number of blank-line-separated paragraphs in
// referral_letters.txt; tests of paragraph mode count on it.
const letters = 6

func (g gen) referralLetters(n int) string {
	var paras []string
	for i := 0; i < n; i++ {
		name := g.name()
		sn := strings.Fields(name)[1]
		paras = append(paras, fmt.Sprintf("Referral %d. Dear Dr. %s, I am referring %s (DOB %s, Aadhaar %s, PAN %s) of %s "+
			"with %s. Reachable on %s or %s. Insurance premium is paid from card %s; claims settle to %s@%s "+
			"(IFSC %s). Kindly see at the earliest.\nRegards, Dr. %s",
			i+1, g.pick(surname), name, g.dob(), g.aadhaar(), g.pan(sn), g.address(), g.pick(issues), g.phone(), g.email(name),
			g.card(), strings.ToLower(strings.Fields(name)[0]), g.pick(psps), g.ifsc(), g.name()))
	}
	return strings.Join(paras, "\n\n") + "\n"
}
