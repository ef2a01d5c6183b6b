package config

import (
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/slotline/slotline/internal/notify"
	"github.com/slotline/slotline/internal/reservation"
)

// maxRemindBefore bounds a queue's notify.remind_before.
const maxRemindBefore = 7 * day

// notifyPolicy reads a queue's notify block into np, which holds the
// defaults: confirm, remind_before (0 = off), on_cancel, on_missed and
// quiet_hours ("21:00-08:00"; "" = none).
func (p *parser) notifyPolicy(n *yaml.Node, path string, np *notify.Policy) error {
	_, err := p.block(n, path,
		decoder{"confirm", into(&np.Confirm, p.boolean)},
		decoder{"remind_before", into(&np.RemindBefore, func(v *yaml.Node, f string) (time.Duration, error) {
			d, err := p.duration(v, f)
			if err == nil && d > maxRemindBefore {
				return 0, p.errorf(v, f, "is more than %s", formatDuration(maxRemindBefore))
			}
			return d, err
		})},
		decoder{"on_cancel", into(&np.OnCancel, p.boolean)},
		decoder{"on_missed", into(&np.OnMissed, p.boolean)},
		decoder{"quiet_hours", into(&np.Quiet, func(v *yaml.Node, f string) (notify.QuietHours, error) {
			s, err := p.str(v, f)
			if err != nil {
				return notify.QuietHours{}, err
			}
			q, err := notify.ParseQuietHours(s)
			if err != nil {
				return q, p.errorf(v, f, "%s", err.Error())
			}
			return q, nil
		})},
	)
	return err
}

// template reads one message template: at most 765 characters, with no
// placeholder but {time}, {queue}, {reason} and {manage_url}.
func (p *parser) template(n *yaml.Node, path string) (string, error) {
	s, err := p.textUpTo(maxSMSText)(n, path)
	if err != nil {
		return "", err
	}
	if err := notify.CheckTemplate(s); err != nil {
		return "", p.errorf(n, path, "%s", err.Error())
	}
	return s, nil
}

// templates reads sms.templates: locale (BCP 47) → kind → template.
func (p *parser) templates(n *yaml.Node, path string) (map[string]map[string]string, error) {
	pairs, err := p.pairs(n, path)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	for _, kv := range pairs {
		field := join(path, kv.key.Value)
		locale, err := reservation.ParseLocale(kv.key.Value)
		if err != nil {
			return nil, p.errorf(kv.key, field, "%s", err.Error())
		}
		if _, ok := out[locale]; ok {
			return nil, p.errorf(kv.key, field, "names the locale %s again", locale)
		}
		kinds := map[string]string{}
		ds := make([]decoder, len(notify.Kinds))
		for i, kind := range notify.Kinds {
			ds[i] = decoder{kind, func(v *yaml.Node, f string) error {
				s, err := p.template(v, f)
				if err == nil {
					kinds[kind] = s
				}
				return err
			}}
		}
		if isNull(kv.value) {
			continue
		}
		if _, err := p.block(kv.value, field, ds...); err != nil {
			return nil, err
		}
		out[locale] = kinds
	}
	return out, nil
}
