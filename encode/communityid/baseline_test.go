package communityid

// baseline holds corelight/community-id-spec baseline/baseline_deflt.json
// (ICMP sport/dport there are type and code, or type and counter-type).
var baseline = []struct {
	seed         uint16
	src, dst     string
	proto        uint8
	sport, dport uint16
	want         string
}{
	{0, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 58, 135, 136, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
	{0, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 58, 136, 135, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
	{0, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 58, 135, 136, "1:zavyT/cezQr1fmImYCwYnMXbgck="},
	{0, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 58, 136, 135, "1:zavyT/cezQr1fmImYCwYnMXbgck="},
	{0, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 58, 3, 0, "1:2ObVBgIn28oZvibYZhZMBgh7WdQ="},
	{0, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 58, 1, 4, "1:hLZd0XGWojozrvxqE0dWB1iM6R0="},
	{0, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 58, 128, 129, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="},
	{0, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 58, 129, 128, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="},
	{0, "fe80::200:86ff:fe05:80da", "ff02::2", 58, 133, 134, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="},
	{0, "fe80::260:97ff:fe07:69ea", "ff02::1", 58, 134, 133, "1:pkvHqCL88/tg1k4cPigmZXUtL00="},
	{0, "192.168.0.89", "192.168.0.1", 1, 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
	{0, "192.168.0.1", "192.168.0.89", 1, 0, 8, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
	{0, "10.0.0.1", "10.0.0.2", 1, 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM="},
	{0, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 6, 63943, 25, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
	{0, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 6, 25, 63943, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
	{0, "192.168.170.8", "192.168.170.56", 132, 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
	{0, "192.168.170.56", "192.168.170.8", 132, 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
	{0, "128.232.110.120", "66.35.250.204", 6, 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
	{0, "66.35.250.204", "128.232.110.120", 6, 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
	{0, "192.168.1.52", "8.8.8.8", 17, 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
	{0, "8.8.8.8", "192.168.1.52", 17, 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
	{0, "10.1.12.1", "10.1.12.2", 46, 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
	{0, "10.1.12.2", "10.1.12.1", 46, 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
}
