package anonymize

// Checksums and format rules. Each takes the bare characters (digits, or
// upper-case alphanumerics for IBAN) and is used both to validate detected
// values and to repair pseudonyms so that they stay valid.

// luhnOK reports whether the digit string passes the Luhn check.
func luhnOK(ds []byte) bool {
	return len(ds) > 1 && luhnSum(ds)%10 == 0
}

func luhnSum(ds []byte) int {
	sum, dbl := 0, false
	for i := len(ds) - 1; i >= 0; i-- {
		v := int(ds[i] - '0')
		if dbl {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		dbl = !dbl
	}
	return sum
}

// luhnFix sets the last digit so that ds passes Luhn.
func luhnFix(ds []byte) {
	ds[len(ds)-1] = '0'
	s := luhnSum(ds)
	ds[len(ds)-1] = byte('0' + (10-s%10)%10)
}

var verhoeffD = [10][10]byte{
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
	{2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
	{4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
	{6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
	{8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
}
var verhoeffP = [8][10]byte{
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
	{5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
	{9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
	{2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
}
var verhoeffInv = [10]byte{0, 4, 3, 2, 1, 5, 6, 7, 8, 9}

func verhoeffOK(ds []byte) bool {
	c := byte(0)
	for i := 0; i < len(ds); i++ {
		c = verhoeffD[c][verhoeffP[i%8][ds[len(ds)-1-i]-'0']]
	}
	return c == 0
}

// verhoeffFix sets the last digit to the Verhoeff check digit of the rest.
func verhoeffFix(ds []byte) {
	c := byte(0)
	body := ds[:len(ds)-1]
	for i := 0; i < len(body); i++ {
		c = verhoeffD[c][verhoeffP[(i+1)%8][body[len(body)-1-i]-'0']]
	}
	ds[len(ds)-1] = '0' + verhoeffInv[c]
}

// aadhaarOK: 12 digits, first 2-9, Verhoeff-valid, not a palindrome.
func aadhaarOK(ds []byte) bool {
	if len(ds) != 12 || ds[0] < '2' {
		return false
	}
	pal := true
	for i := 0; i < 6; i++ {
		if ds[i] != ds[11-i] {
			pal = false
			break
		}
	}
	return !pal && verhoeffOK(ds)
}

// cardOK: 12-19 digits, network leading digit, Luhn.
func cardOK(ds []byte) bool {
	n := len(ds)
	if n < 12 || n > 19 {
		return false
	}
	switch c := ds[0]; {
	case c >= '2' && c <= '6':
	case c == '8':
		if ds[1] != '1' && ds[1] != '2' {
			return false
		}
	case c == '1':
		if n != 15 {
			return false
		}
	default:
		return false
	}
	return luhnOK(ds)
}

// ssnOK applies the SSA rules: area not 000, 666 or 9xx, group not 00,
// serial not 0000, and not the two numbers withdrawn after misuse.
func ssnOK(ds []byte) bool {
	if len(ds) != 9 {
		return false
	}
	s := string(ds)
	area, group, serial := s[:3], s[3:5], s[5:]
	if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" {
		return false
	}
	return s != "078051120" && s != "219099999"
}

// panHolder is the set of valid 4th letters of a PAN.
func panHolder(c byte) bool {
	switch c {
	case 'A', 'B', 'C', 'F', 'G', 'H', 'J', 'L', 'P', 'T':
		return true
	}
	return false
}

// panOK: [A-Z]{3}[holder][A-Z][0-9]{4}[A-Z].
func panOK(s string) bool {
	if len(s) != 10 {
		return false
	}
	for i := 0; i < 10; i++ {
		c := s[i]
		switch {
		case i < 5 || i == 9:
			if !isUpper(c) {
				return false
			}
		default:
			if !isDigit(c) {
				return false
			}
		}
	}
	return panHolder(s[3])
}

// ibanLen is the ISO 13616 registry length per country.
var ibanLen = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
	"BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
	"EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
	"GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
	"JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
	"MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
	"NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
	"SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
	"TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

// ibanMod97 computes the ISO 7064 mod-97 remainder of the rearranged IBAN
// (country and check digits moved to the end, letters as 10..35).
func ibanMod97(s []byte) int {
	r := 0
	add := func(c byte) {
		switch {
		case isDigit(c):
			r = (r*10 + int(c-'0')) % 97
		default:
			v := int(c-'A') + 10
			r = (r*100 + v) % 97
		}
	}
	for _, c := range s[4:] {
		add(c)
	}
	for _, c := range s[:4] {
		add(c)
	}
	return r
}

func ibanOK(s []byte) bool {
	if len(s) < 15 || !isUpper(s[0]) || !isUpper(s[1]) || !isDigit(s[2]) || !isDigit(s[3]) {
		return false
	}
	if l, ok := ibanLen[string(s[:2])]; !ok || l != len(s) {
		return false
	}
	for _, c := range s {
		if !isUpper(c) && !isDigit(c) {
			return false
		}
	}
	return ibanMod97(s) == 1
}

// ibanFix recomputes the two check digits.
func ibanFix(s []byte) {
	s[2], s[3] = '0', '0'
	r := ibanMod97(s)
	c := 98 - r
	s[2], s[3] = byte('0'+c/10), byte('0'+c%10)
}
