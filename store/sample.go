package store

import "encoding/json"

// SampleResult is a realistic recommendation in the producer's format, used
// by the demo stand-in and the load tester.
func SampleResult(eventDraftID string) Result {
	return Result{
		EventDraftID: eventDraftID,
		TrendAnalysis: json.RawMessage(`{"summary":"최근 3개월 동안 20~30대 고객의 모바일 참여형 이벤트 반응이 가장 높았습니다. 즉시 보상형 경품과 SNS 공유 이벤트의 전환율이 평균보다 1.8배 높습니다.",` +
			`"keywords":["모바일 참여","즉시 보상","SNS 공유","주말 집중"],` +
			`"period":"2026-08 ~ 2026-10","targetAudience":"20~30대 직장인",` +
			`"seasonality":{"peakDays":["금","토"],"peakHours":"18~22시"}}`),
		Recommendations: []Recommendation{
			{Title: "저비용 추천안", Prize: "커피쿠폰", Method: "QR코드 스캔", Cost: "50만원", ROI: "150%"},
			{Title: "중비용 추천안", Prize: "상품권", Method: "SNS 공유", Cost: "100만원", ROI: "200%"},
			{Title: "고비용 추천안", Prize: "경품 추첨", Method: "설문 참여", Cost: "200만원", ROI: "300%"},
		},
	}
}
